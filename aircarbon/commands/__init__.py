"""Bodies of the CLI commands: each module turns settings and options into library calls."""
