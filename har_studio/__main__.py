"""Entry point: no subcommand opens the app; a subcommand runs headless (see cli.py)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from .cli import SUBCOMMANDS, run_cli

    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help", "--version")):
        return run_cli(argv)
    from .app import run_gui

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
