"""The ``matrix-delegation`` command line: one module per subcommand."""
