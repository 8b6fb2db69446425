"""One module per ``apibehave`` subcommand: ``configure(parser)`` and ``run(args) -> int``."""
