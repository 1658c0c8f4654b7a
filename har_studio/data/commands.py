"""``har-studio inspect PATH... [--json]``: what a load finds, without opening the app."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``inspect`` subcommand."""
    parser = subparsers.add_parser(
        "inspect",
        help="load recordings and print what was found",
        description="Load WISDM / CSV / phone app recordings (files, zips or folders) and print the load report: "
                    "records kept and skipped (with reasons and places), subjects, activities, "
                    "channels, sampling rate and gaps.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="data files or folders")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_identity_arguments(parser)
    parser.set_defaults(func=run_inspect)


def add_identity_arguments(parser, subject: bool = True) -> None:
    """``--subject`` and ``--activity``: who was recorded doing what, for phone apps'
    recordings (Sensor Logger, phyphox, ...), which do not say; remembered beside them.
    `subject` False: the command has its own ``--subject``, which serves."""
    group = parser.add_argument_group("phone app recordings (they name no person or activity)")
    if subject:
        group.add_argument("--subject", metavar="ID", default=None,
                           help="the person recorded: an id number or a name (remembered "
                                "in <file>.harstudio.json beside the recording)")
    group.add_argument("--activity", metavar="NAME", default=None,
                       help="the activity of the whole recording, or 'unlabelled' to label it "
                            "later (its rows then make no window)")


def identity_of(args: argparse.Namespace) -> dict:
    """The ``load`` keywords of ``add_identity_arguments``' options."""
    return {"subject": getattr(args, "subject", None), "activity": getattr(args, "activity", None)}


def run_inspect(args: argparse.Namespace) -> int:
    """Load `args.paths` and print the report; 1 with a one-line error when nothing loads."""
    from ..cli import fail, print_json
    from .dataset import DataError
    from .loaders import load

    try:
        dataset = load(args.paths, **identity_of(args))
    except DataError as exc:
        return fail(" ".join(str(exc).split()))
    except (OSError, ValueError, MemoryError) as exc:
        return fail(" ".join(f"cannot load {', '.join(args.paths)}: {exc}".split()))
    report = dataset.report.to_dict()
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return 0


def format_report(report: dict) -> str:
    """A readable multi-line rendering of a LoadReport dict."""
    lines = []
    files = report.get("files", [])
    lines.append(f"Format      {report['format']} ({len(files)} file{'s' if len(files) != 1 else ''})")
    lines.append(f"Records     {report['records']:,} kept of {report['records_read']:,} read")
    skipped = report.get("skipped", {})
    if skipped:
        lines.append(f"Skipped     {sum(skipped.values()):,}")
        for reason, count in skipped.items():
            places = report.get("skipped_lines", {}).get(reason, [])
            where = f"  (first at {', '.join(places)})" if places else ""
            lines.append(f"  {reason}: {count:,}{where}")
    subjects = report.get("subjects", [])
    lines.append(f"Subjects    {len(subjects)}: {', '.join(map(str, subjects))}")
    activities = report.get("activities", {})
    lines.append(f"Activities  {len(activities)}")
    width = max((len(a) for a in activities), default=0)
    for name, count in activities.items():
        lines.append(f"  {name:<{width}}  {count:,}")
    lines.append(f"Channels    {', '.join(report.get('channels', []))}")
    hz = report.get("sampling_hz", 0.0)
    if hz:
        lines.append(f"Sampling    {hz:.2f} Hz (median interval {1000.0 / hz:.1f} ms), "
                     f"{report.get('gaps', 0)} gap(s) longer than 4 sample periods")
    else:
        lines.append("Sampling    unknown (no two samples in a row)")
    for warning in report.get("warnings", []):
        lines.append(f"Warning     {warning}")
    return "\n".join(lines)
