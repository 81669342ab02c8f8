"""The ``harness`` command line: one thin module per command, subsystems imported lazily."""
