"""pytest plugins of the suite, loaded from ``addopts`` (``-p tests.plugins.<name>``)."""
