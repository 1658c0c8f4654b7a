"""Command line: ``har-studio <subcommand>`` runs the Qt-free core headless.

Each area of the core registers its own subcommands (``<area>/commands.py``) so the same code
that the app runs can train on a GPU server with no display.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from . import __version__

# subcommand -> module that registers it (imported only when the CLI runs)
SUBCOMMANDS: dict[str, str] = {
    "inspect": "har_studio.data.commands",
    "model": "har_studio.model.commands",
    "train": "har_studio.training.commands",
    "evaluate": "har_studio.training.commands",
    "replay": "har_studio.live.commands",
    "stream": "har_studio.live.commands",
    "sweep": "har_studio.training.sweep_commands",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="har-studio",
        description="HAR Studio. With no subcommand, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"har-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<subcommand>")
    for module_name in dict.fromkeys(SUBCOMMANDS.values()):
        importlib.import_module(module_name).register(sub)
    return parser


def print_json(obj) -> None:
    """One JSON object on one line of stdout (flushed: other programs read it live)."""
    sys.stdout.write(json.dumps(obj, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def fail(message: str) -> int:
    """A one-line error on stderr and exit status 1."""
    sys.stderr.write(f"har-studio: error: {message}\n")
    return 1


def run_cli(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
