"""One module per `damdrift` subcommand; each exposes ``register(subparsers)``."""
