"""The admin API: faults, maintenance, the test clock, lifecycle runs, reset, credentials."""
