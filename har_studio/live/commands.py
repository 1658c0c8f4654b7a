"""``har-studio replay`` and ``har-studio stream``: classify a recording or a phone stream
headless, printing one line (or JSON object) per prediction and a summary at the end."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

from .. import cli


def _common(p: argparse.ArgumentParser, smoothing: str, engine: str = "torch") -> None:
    p.add_argument("--model", required=True, metavar="FILE", help="a .harmodel file")
    p.add_argument("--hop", type=int, default=None, metavar="N",
                   help="samples between classified windows (default: the model's window step)")
    p.add_argument("--smoothing", choices=("none", "mean", "majority"), default=smoothing,
                   help=f"smoothing of the last --smooth-k windows (default {smoothing})")
    p.add_argument("--smooth-k", type=int, default=3, metavar="K",
                   help="windows smoothed over (default 3)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="below this confidence the label is 'uncertain' (default 0.5)")
    p.add_argument("--engine", choices=("auto", "torch", "onnx"), default=engine,
                   help="inference engine (torch: exact; onnx: onnxruntime, within 1e-4 of "
                        "torch, falls back to torch when unavailable; auto: onnxruntime on one "
                        f"thread for single windows, torch for batches; default {engine})")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: predictions, then a summary")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "replay", help="classify a recording as if it were streaming",
        description="Replay a recording through a model window by window, as the Live tab "
                    "does. At --hop equal to the model's step and --smoothing none, the "
                    "predictions are those of 'har-studio evaluate' on the same windows.")
    _common(p, "none")
    p.add_argument("--data", required=True, nargs="+", metavar="PATH",
                   help="recording file(s) or folder(s)")
    p.add_argument("--subject", type=int, default=None, metavar="ID", help="replay one subject")
    p.add_argument("--activity", default=None, metavar="NAME", help="replay one activity")
    p.add_argument("--speed", default="max", metavar="max|1|2|5|10",
                   help="replay speed relative to real time (default max)")
    p.set_defaults(func=_replay)

    s = subparsers.add_parser(
        "stream", help="classify a phone streaming over the network",
        description="Listen for a phone sensor app and classify its stream until interrupted "
                    "(Ctrl-C or SIGTERM) or --duration passes. UDP/TCP: lines of "
                    "'[timestamp,]x,y,z[,gx,gy,gz]' (HyperIMU and similar); HTTP: JSON batches "
                    "as POSTed by Sensor Logger. Use host 0.0.0.0 to listen on the local network. "
                    "SensorServer and phyphox are servers on the phone: give the phone's "
                    "address as the app shows it and this command connects to it.")
    _common(s, "mean", "auto")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--udp", metavar="HOST:PORT", help="listen for UDP datagrams")
    where.add_argument("--tcp", metavar="HOST:PORT", help="listen for TCP connections")
    where.add_argument("--http", metavar="HOST:PORT", help="listen for HTTP POSTs (Sensor Logger)")
    where.add_argument("--sensorserver", metavar="PHONE[:PORT]",
                       help="connect to the SensorServer app's WebSocket (Android; port 8080 "
                            "unless given)")
    where.add_argument("--phyphox", metavar="PHONE[:PORT]",
                       help="poll phyphox's remote access (experiment 'Acceleration with g'; "
                            "port 8080 unless given; a URL such as http://PHONE:8080 works too)")
    s.add_argument("--units", choices=("ms2", "g"), default="ms2",
                   help="accelerometer units the phone sends (default ms2 = m/s^2)")
    s.add_argument("--phone", choices=("auto", "android", "iphone"), default="auto",
                   help="whose axis signs the values have: an iPhone's accelerometer axes are "
                        "negated to Android's convention (auto: Sensor Logger's platform is told "
                        "from what it sends, other line senders are taken as Android; "
                        "SensorServer and phyphox always send Android's convention)")
    s.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds")
    s.add_argument("--record", default=None, metavar="FILE",
                   help="also save the stream as a WISDM-format file (needs --activity)")
    s.add_argument("--activity", default=None, metavar="NAME", help="activity label for --record")
    s.add_argument("--subject", type=int, default=0, metavar="ID",
                   help="subject id for --record (default 0)")
    s.set_defaults(func=_stream)


KIND_NAMES = {"sensorserver": "SensorServer", "phyphox": "phyphox"}


def _reach_phone(source, timeout_s: float | None = None) -> str | None:
    """Wait until a phone-served source has reached the phone: None once a sample (or the
    connection) is there or the wait ends quietly; the one-line reason when it failed first."""
    import threading
    import time

    deadline = time.monotonic() + (timeout_s if timeout_s is not None else source.timeout_s + 1.0)
    pause = threading.Event()
    while time.monotonic() < deadline:
        stats = source.stats()
        if stats.samples:
            return None
        if stats.last_error:
            where = stats.address or "the phone"
            hint = ("start the server in the SensorServer app and check the address"
                    if source.kind == "sensorserver" else "start the experiment 'Acceleration "
                    "with g' with remote access allowed and check the address")
            return f"cannot read the phone at {where}: {stats.last_error.split(': ', 1)[-1]} ({hint})"
        pause.wait(0.02)
    return None


def _load_bundle(path: str):
    from ..model.io import ModelFileError, load_model

    try:
        return load_model(path), None
    except ModelFileError as exc:
        return None, str(exc)
    except (OSError, ValueError) as exc:
        return None, f"{path}: {exc}"


def _make_classifier(bundle, args):
    from .classifier import StreamingClassifier

    return StreamingClassifier(bundle, hop=args.hop, smoothing=args.smoothing,
                               smooth_k=args.smooth_k, threshold=args.threshold,
                               engine=args.engine)


@contextlib.contextmanager
def _stop_on_signals(control):
    """SIGINT and SIGTERM stop the session cleanly (so the summary is still printed)."""
    previous = {}

    def handler(signum, frame):
        control.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread: Ctrl-C raises as usual
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, old)


def _drive(source, classifier, args, control) -> int:
    """Run the session, print predictions and the summary."""
    from ..progress import run_to_end
    from .session import run_session

    labels = classifier.labels

    def show(update) -> None:
        for p in update.predictions:
            if args.json:
                cli.print_json({"type": "prediction", **p.to_dict(labels)})
            else:
                truth = f"  (truth {p.truth})" if p.truth is not None else ""
                print(f"{p.t:9.2f} s  {p.label:<12} {p.confidence:5.2f}{truth}", flush=True)

    gen = run_session(source, classifier, control, duration_s=getattr(args, "duration", None))
    with _stop_on_signals(control):
        try:
            summary = run_to_end(gen, show)
        except KeyboardInterrupt:
            gen.close()
            return 130
    stats = source.stats()
    out = {"type": "summary", **summary.to_dict(), "address": stats.address}
    if args.json:
        cli.print_json(out)
    else:
        acc = f", accuracy {summary.accuracy:.4f}" if summary.accuracy is not None else ""
        lat = (f", latency p50 {summary.latency_ms_p50:.2f} ms p99 {summary.latency_ms_p99:.2f} ms"
               if summary.latency_ms_p50 is not None else "")
        if summary.queue_ms_p99:   # windows that waited behind others (replay faster than real time)
            lat += f", queueing p50 {summary.queue_ms_p50:.2f} ms p99 {summary.queue_ms_p99:.2f} ms"
        print(f"{summary.windows} windows from {summary.samples} samples, "
              f"{summary.bad_packets} bad packets{acc}{lat}", flush=True)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from ..data.activities import canonical_activity
    from .replay import ReplaySource, parse_speed
    from .session import LiveControl

    try:
        speed = parse_speed(args.speed)
    except ValueError as exc:
        return cli.fail(str(exc))
    if args.hop is not None and args.hop < 1:
        return cli.fail("--hop must be at least 1")
    bundle, error = _load_bundle(args.model)
    if error:
        return cli.fail(error)
    from ..data.dataset import DataError
    from ..data.loaders import load

    try:
        dataset = load(args.data if len(args.data) > 1 else args.data[0],
                       subject=args.subject, activity=args.activity)  # phone recordings
    except DataError as exc:
        return cli.fail(str(exc))
    except OSError as exc:
        return cli.fail(f"{exc.filename or args.data[0]}: {exc.strerror or exc}")
    activity = canonical_activity(args.activity) if args.activity else None
    try:
        classifier = _make_classifier(bundle, args)
        source = ReplaySource(dataset, subject=args.subject, activity=activity,
                              channels=None, speed=speed, window=bundle.window)
    except ValueError as exc:
        return cli.fail(f"{args.data[0]}: {exc}")
    problem = classifier.check_channels(source.channels)
    if problem:
        return cli.fail(f"{args.data[0]}: {problem}")
    return _drive(source, classifier, args, LiveControl())


def _stream(args: argparse.Namespace) -> int:
    from .addresses import local_addresses
    from .recorder import StreamRecorder
    from .registry import PHONE_SERVES, make_network_source, source_address
    from .session import LiveControl

    kind, text = next((k, getattr(args, k)) for k in ("udp", "tcp", "http", "sensorserver",
                                                      "phyphox") if getattr(args, k) is not None)
    try:
        host, port = source_address(kind, text)
    except ValueError as exc:
        return cli.fail(f"--{kind}: {exc}")
    if args.hop is not None and args.hop < 1:
        return cli.fail("--hop must be at least 1")
    if args.record and not args.activity:
        return cli.fail("--record needs --activity (the label saved with the samples)")
    bundle, error = _load_bundle(args.model)
    if error:
        return cli.fail(error)
    known = {"x", "y", "z", "gx", "gy", "gz"}
    if not set(bundle.channels) <= known:
        return cli.fail(f"{args.model}: a phone stream cannot give channels "
                        f"{', '.join(c for c in bundle.channels if c not in known)}")
    channels = ("x", "y", "z", "gx", "gy", "gz") if {"gx", "gy", "gz"} & set(bundle.channels) \
        else ("x", "y", "z")
    try:
        classifier = _make_classifier(bundle, args)
        source = make_network_source(kind, host, port, channels=channels, units=args.units,
                                     phone=args.phone)
        source.start()
    except (ValueError, OSError) as exc:
        return cli.fail(str(exc))
    if kind in PHONE_SERVES:
        problem = _reach_phone(source)
        if problem:
            source.stop()
            return cli.fail(problem)
    control = LiveControl()
    recorder = None
    if args.record:
        try:
            recorder = StreamRecorder(args.record, args.subject, args.activity, channels,
                                      rate_hz=bundle.window.rate_hz)
        except (ValueError, OSError) as exc:
            source.stop()
            return cli.fail(f"{args.record}: {exc}")
        control.set_recorder(recorder)
    address = source.stats().address
    phone = ""
    if host in ("0.0.0.0", ""):
        bound_port = address.rsplit(":", 1)[1]
        choices = " or ".join(f"{a}:{bound_port}" for a in local_addresses())
        phone = f" (on the phone use {choices})"
    doing = "reading" if kind in PHONE_SERVES else "listening for"
    sys.stderr.write(f"har-studio: {doing} {KIND_NAMES.get(kind, kind.upper())} on "
                     f"{address}{phone}\n")
    sys.stderr.flush()
    try:
        return _drive(source, classifier, args, control)
    finally:
        source.stop()
        if recorder is not None:
            if recorder.failed is not None:
                cli.fail(str(recorder.failed))  # nothing was published
            elif recorder.samples:
                try:
                    paths = recorder.close()
                except OSError as exc:
                    return cli.fail(str(exc))
                sys.stderr.write(f"har-studio: recorded {recorder.samples} samples at "
                                 f"{recorder.describe_rate()} to {paths[0]}\n")
            else:
                recorder.discard()
