"""``har-studio model``: size and speed of a ViT configuration, without training it."""

from __future__ import annotations

import argparse

from .. import cli


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "model",
        help="parameters, multiply-adds and latency of a ViT configuration",
        description="Print the parameter count, multiply-adds per window and batch-1 latency "
                    "of a time-series ViT configuration (defaults: the reference model).",
    )
    p.add_argument("--window", type=int, default=128, help="samples per window (default 128)")
    p.add_argument("--channels", type=int, default=3, help="sensor axes (default 3)")
    p.add_argument("--classes", type=int, default=6, help="activities (default 6)")
    p.add_argument("--embedding", type=int, default=256, help="embedding size (default 256)")
    p.add_argument("--patch", type=int, default=4, help="samples per patch (default 4)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--head-size", type=int, default=64, help="size of each head (default 64)")
    p.add_argument("--blocks", type=int, default=3, help="transformer blocks (default 3)")
    p.add_argument("--head-width", type=int, default=1024,
                   help="hidden width of the classifier head (default 1024)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout (default 0)")
    p.add_argument("--members", type=int, default=1,
                   help="networks in an ensemble, probabilities averaged (default 1)")
    p.add_argument("--repeats", type=int, default=50, help="timed runs for latency (default 50)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for the latency run (default: torch's default)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .config import ViTConfig

    try:
        config = ViTConfig(
            series=args.window, modal=args.channels, classes=args.classes,
            embedding_dim=args.embedding, patch_size=args.patch, head_num=args.heads,
            att_size=args.head_size, depth=args.blocks, head_width=args.head_width,
            dropout=args.dropout, members=args.members,
        )
    except ValueError as exc:
        return cli.fail(f"invalid model configuration: {exc}")
    if args.repeats < 1:
        return cli.fail("--repeats must be at least 1")
    if args.threads is not None and args.threads < 1:
        return cli.fail("--threads must be at least 1")

    import torch

    from .summary import model_summary

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    try:
        summary = model_summary(config, latency=not args.no_latency, repeats=args.repeats)
    except (MemoryError, RuntimeError) as exc:
        return cli.fail(f"cannot build this model: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    if args.json:
        cli.print_json(summary)
        return 0
    c = config
    print(f"Time-series ViT: window {c.series} x {c.modal} channels -> {c.classes} classes")
    print(f"  embedding {c.embedding_dim}, patch {c.patch_size} ({c.patch_num} patches per axis), "
          f"{c.head_num} heads x {c.att_size}, {c.depth} blocks "
          f"({c.final_patches} patches left), head {c.flatten_size} -> {c.head_width}, "
          f"dropout {c.dropout:g}" + (f"; an ensemble of {c.members}" if c.members > 1 else ""))
    print(f"  parameters     {summary['parameters']:,}")
    print(f"  multiply-adds  {summary['macs'] / 1e6:.2f} M per window")
    if summary["latency_ms"] is not None:
        threads = torch.get_num_threads()
        print(f"  latency        {summary['latency_ms']:.2f} ms per window "
              f"(batch 1, CPU, {threads} thread{'s' if threads != 1 else ''}, "
              f"median of {args.repeats})")
    return 0
