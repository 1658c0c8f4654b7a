"""Command line: ``har-studio <subcommand>`` runs the Qt-free core headless.

Each area of the core registers its own subcommands (``<area>/commands.py``) so the same code
that the app runs can train on a GPU server with no display. Start-up is kept short: the parser
for ``har-studio --help`` lists the subcommands from ``SUBCOMMANDS`` / ``SUBCOMMAND_HELP``
without importing them; a subcommand's module (and torch, pandas...) is imported only when that
subcommand runs (``bench/bench_live.py`` measures ``--help`` against a 0.15 s goal).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from . import __version__

# subcommand -> module that registers it (imported only when that subcommand runs)
SUBCOMMANDS: dict[str, str] = {
    "inspect": "har_studio.data.commands",
    "model": "har_studio.model.commands",
    "train": "har_studio.training.commands",
    "evaluate": "har_studio.training.commands",
    "replay": "har_studio.live.commands",
    "stream": "har_studio.live.commands",
    "sweep": "har_studio.training.sweep_commands",
    "calibrate": "har_studio.training.calibration_commands",
}


# subcommand -> one-line help for the top-level listing, the same text as its module's
# ``register`` gives (tests/test_cli_output.py checks both and that no subcommand lacks one)
SUBCOMMAND_HELP: dict[str, str] = {
    "inspect": "load recordings and print what was found",
    "model": "parameters, multiply-adds and latency of a ViT configuration",
    "train": "train a model headless (same engine as the app)",
    "evaluate": "evaluate a model file on recordings",
    "replay": "classify a recording as if it were streaming",
    "stream": "classify a phone streaming over the network",
    "sweep": "search recipes on Ray Tune, scored by cross-validation",
    "calibrate": "fine-tune a model to one person's labelled recording",
}


def build_parser(command: str | None = "*") -> argparse.ArgumentParser:
    """The argument parser. `command`: the subcommand about to run (only its module is
    imported), None (list every subcommand from ``SUBCOMMANDS`` without importing any) or
    ``"*"`` (import and register every subcommand)."""
    parser = argparse.ArgumentParser(
        prog="har-studio",
        description="HAR Studio. With no subcommand, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"har-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<subcommand>")
    if command is None:
        for name in SUBCOMMANDS:
            sub.add_parser(name, help=SUBCOMMAND_HELP.get(name, ""), add_help=False)
        return parser
    names = list(SUBCOMMANDS) if command == "*" else [command]
    for module_name in dict.fromkeys(SUBCOMMANDS[n] for n in names):
        importlib.import_module(module_name).register(sub)
    return parser


def print_json(obj) -> None:
    """One JSON object on one line of stdout (flushed: other programs read it live).
    Always valid JSON: NaN and infinities are written as null."""
    try:
        text = json.dumps(obj, default=_json_default, allow_nan=False)
    except ValueError:   # a non-finite float somewhere: round-trip it to null
        text = json.dumps(json.loads(json.dumps(obj, default=_json_default),
                                     parse_constant=lambda _: None), allow_nan=False)
    sys.stdout.write(text + "\n")
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


# subcommands that never use pyarrow: pandas is imported without it (see below)
WITHOUT_PYARROW = frozenset({"inspect"})


def import_pandas_without_pyarrow() -> None:
    """Import pandas with pyarrow hidden, when neither is imported yet (a fresh process).
    pandas imports pyarrow eagerly whenever it is installed (0.1-0.2 s of start-up on a 2-core
    machine); without it pandas keeps text in its own string storage. pyarrow is importable
    again afterwards; a process that imported pandas already is left as it is."""
    if "pandas" in sys.modules or "pyarrow" in sys.modules:
        return
    import gc

    sys.modules["pyarrow"] = None  # type: ignore[assignment]  # "import pyarrow" -> ImportError
    # the import makes ~50,000 lasting objects and next to no garbage: the collections it
    # triggers find nothing and take ~10% of its time (60 ms of 570 on the 2-core machine)
    collecting = gc.isenabled()
    gc.disable()
    try:
        import pandas  # noqa: F401
    finally:
        if collecting:
            gc.enable()
        if sys.modules.get("pyarrow", False) is None:
            del sys.modules["pyarrow"]


def run_cli(argv: list[str]) -> int:
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    if command in WITHOUT_PYARROW:
        import_pandas_without_pyarrow()
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .atomic import remove_app_temp_files

    remove_app_temp_files()  # what a killed run or save left behind
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
