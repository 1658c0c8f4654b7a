"""Start-up, thread policy, batched replay, queueing vs latency, and the live wake-up path.

Speed itself is measured by bench/bench_live.py and bench/bench_train.py; these tests check the
behaviour the speed work relies on (no timing assertions, no sleeps).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
from test_live_classifier import recording, tiny_bundle

from har_studio import cli, threads
from har_studio.live.addresses import parse_address
from har_studio.live.classifier import StreamingClassifier
from har_studio.live.replay import ReplaySource
from har_studio.live.session import LiveControl, run_session
from har_studio.live.source import SampleBatch
from har_studio.live.udp import UdpSource


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_subcommand_nor_torch():
    got = _fresh(
        "import contextlib, io, json, sys\n"
        "from har_studio.__main__ import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit as e:\n"
        "        code = e.code\n"
        "heavy = [m for m in ('torch', 'pandas', 'har_studio.data', 'har_studio.live.commands',\n"
        "         'har_studio.training.commands') if m in sys.modules]\n"
        "sys.stdout.write(json.dumps({'code': code, 'heavy': heavy, 'text': buf.getvalue()}))\n")
    assert got["code"] == 0
    assert got["heavy"] == []
    for name in cli.SUBCOMMANDS:           # every subcommand is still listed
        assert name in got["text"]


def test_subcommand_help_is_the_full_one(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.run_cli(["replay", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--speed" in out


def test_registry_help_only_names_registered_subcommands():
    assert set(cli.SUBCOMMAND_HELP) <= set(cli.SUBCOMMANDS)
    parser = cli.build_parser(None)
    assert "stream" in parser.format_help()


def test_a_subcommand_without_help_text_is_still_listed_and_runs(monkeypatch, capsys):
    monkeypatch.setitem(cli.SUBCOMMANDS, "inspect2", "har_studio.data.commands")
    assert "inspect2" in cli.build_parser(None).format_help()
    assert cli.run_cli(["inspect", "/no/such/file.txt"]) == 1
    assert "no/such" in capsys.readouterr().err


def test_thread_policy():
    assert threads.training_threads(3, gui=True, current=8) == 3      # explicit wins
    cores = threads.usable_cores()
    assert threads.training_threads(0, gui=False, current=64, busy=0) == cores
    assert threads.training_threads(0, gui=True, current=64, busy=0) == max(1, cores - 1)
    assert threads.training_threads(0, gui=False, current=64, busy=1) == max(1, cores - 1)
    assert threads.training_threads(0, gui=False, current=64, busy=99) == 1
    assert threads.other_runnable() >= 0


def test_live_threads_do_not_shrink_a_later_training(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_baseline", 4)   # torch's default on a 4-core machine
    base = threads.baseline_threads()
    try:
        threads.use_threads(1)          # a live session's thread
        worker: list[int] = []
        t = threading.Thread(target=lambda: worker.append(threads.training_threads(busy=0,
                                                                                   gui=False)))
        t.start()
        t.join()
        assert torch.get_num_threads() == 1
        assert worker == [min(base, threads.usable_cores())]
    finally:
        torch.set_num_threads(before)
    assert threads.training_threads(0, gui=False, current=1) == 1     # never above torch's
    assert threads.live_threads() == 1
    described = threads.describe(2)
    assert described["threads"] == 2
    assert described["omp_wait_policy"] == os.environ["OMP_WAIT_POLICY"]


def test_wait_policy_is_set_before_torch_loads():
    got = _fresh("import os, sys, json\nos.environ.pop('OMP_WAIT_POLICY', None)\n"
                 "import har_studio.live\n"
                 "print(json.dumps({'policy': os.environ.get('OMP_WAIT_POLICY')}))")
    assert got["policy"] == "PASSIVE"


def test_thread_policy_is_recorded_in_the_recipe():
    from har_studio.data.splits import Normaliser, Split, SplitConfig
    from har_studio.data.windows import WindowConfig, Windows
    from har_studio.model.config import ViTConfig
    from har_studio.training.config import TrainConfig
    from har_studio.training.engine import run_to_end, train
    from har_studio.training.prepare import PreparedData

    rng = np.random.default_rng(0)
    n = 48
    X = rng.normal(size=(n, 16, 3)).astype(np.float32)
    y = np.arange(n) % 2
    windows = Windows(X, y, np.ones(n, np.int64), np.arange(n, dtype=np.int64), ["a", "b"],
                      ["x", "y", "z"], WindowConfig(size=16, step=8))
    idx = np.arange(n)
    split = Split("random", idx[8:], idx[:0], idx[:8], [1], [1], [1])
    tr = windows.subset(split.train)
    prepared = PreparedData(windows, split, Normaliser.fit(tr.X), tr, windows.subset(split.val),
                            windows.subset(split.test), SplitConfig(kind="random"))
    cfg = ViTConfig(series=16, modal=3, classes=2, embedding_dim=8, patch_size=4, head_num=1,
                    att_size=4, depth=1, head_width=8)
    import torch

    before = torch.get_num_threads()
    try:
        result = run_to_end(train(prepared, cfg, TrainConfig(epochs=1, device="cpu",
                                                             precision="fp32", threads=1)))
    finally:
        torch.set_num_threads(before)
    recipe = result.bundle.recipe
    assert recipe["training"]["threads"] == 1
    assert recipe["threads"]["threads"] == 1
    assert recipe["threads"]["omp_wait_policy"]
    with pytest.raises(ValueError):
        TrainConfig(threads=-1)


def _replay(bundle, max_batch: int, hop: int):
    source = ReplaySource(recording(), speed="max", window=bundle.window, max_batch=max_batch)
    clf = StreamingClassifier(bundle, hop=hop, smoothing="none")
    pushes, preds = [], []
    gen = run_session(source, clf, poll_s=0.0)
    try:
        while True:
            update = next(gen)
            if update.predictions:
                pushes.append(len(update.predictions))
            preds.extend(update.predictions)
    except StopIteration as end:
        summary = end.value
    return preds, pushes, summary


def test_batched_replay_gives_the_window_by_window_predictions():
    bundle = tiny_bundle()
    batched, pushes_b, summary = _replay(bundle, max_batch=4096, hop=8)
    single, pushes_s, _ = _replay(bundle, max_batch=1, hop=8)
    assert max(pushes_b) > 8 and max(pushes_s) == 1      # really batched vs one at a time
    assert len(batched) == len(single) > 0
    assert [p.label for p in batched] == [p.label for p in single]
    assert [p.t for p in batched] == [p.t for p in single]
    np.testing.assert_allclose([p.probabilities for p in batched],
                               [p.probabilities for p in single], atol=1e-5)
    # queueing behind the batch is reported apart from latency
    assert summary.queue_ms_p99 is not None and summary.queue_ms_p99 > 0
    for p in batched:
        assert p.latency_ms >= 0 and p.queue_ms >= 0


def test_a_window_classified_alone_has_no_queueing():
    bundle = tiny_bundle()
    ticks = iter([0.0, 0.25, 0.5, 1.0])
    clock = ticks.__next__
    clf = StreamingClassifier(bundle, hop=4, smoothing="none", clock=clock)
    n = bundle.window.size
    vals = np.random.default_rng(2).normal(size=(n, 3)).astype(np.float32)
    out = clf.push(SampleBatch(np.arange(n) / 20.0, vals, nominal_rate_hz=20.0,
                               arrival=np.zeros(n)))
    assert len(out) == 1
    assert out[0].queue_ms == 0.0 and out[0].latency_ms > 0
    # three windows due in one push: the later ones waited behind the first
    vals = np.random.default_rng(3).normal(size=(12, 3)).astype(np.float32)
    out = clf.push(SampleBatch(n / 20.0 + np.arange(12) / 20.0, vals, nominal_rate_hz=20.0,
                               arrival=np.zeros(12)))
    assert len(out) == 3
    # the clock gave 0.5 s at the push's start and 1.0 s when the batch was done; all three
    # windows' last samples arrived at 0: latency = the wait for the push + a third of it
    for p in out:
        assert p.latency_ms == pytest.approx(500.0 + 500.0 / 3)
        assert p.queue_ms == pytest.approx(1000.0 - p.latency_ms)


def test_a_sample_completing_a_window_wakes_the_session_at_once():
    """The session waits for data by event: with an hour-long poll period a sample that
    completes a window still yields its prediction (a poll would hang: the guard fails)."""
    bundle = tiny_bundle()
    source = UdpSource(port=0)
    clf = StreamingClassifier(bundle, hop=4, smoothing="none")
    control = LiveControl()
    gen = run_session(source, clf, control, poll_s=3600.0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    size = bundle.window.size

    def lines(lo: int, hi: int) -> bytes:
        return b"".join(f"{1_700_000_000_000 + i * 50},0.1,5.0,{i % 3}\n".encode()
                        for i in range(lo, hi))

    results: list = []

    def step() -> None:
        try:
            results.append(next(gen))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    # the generator starts the source on its first next(): run that in a guard thread too
    first = threading.Thread(target=step, daemon=True)
    try:
        source.start()   # bind now so we know the address (run_session's start is a no-op)
        addr = parse_address(source.stats().address)
        sender.sendto(lines(0, size - 1), addr)     # one short of a full window
        first.start()
        first.join(30)
        assert not first.is_alive(), "the session did not wake up for data"
        got = list(results[-1].predictions)
        while not got:                             # the short window: no prediction yet
            sender.sendto(lines(size - 1 + len(results) - 1, size + len(results) - 1), addr)
            guard = threading.Thread(target=step, daemon=True)
            guard.start()
            guard.join(30)
            assert not guard.is_alive(), "a sample completing a window waited for a poll"
            assert not isinstance(results[-1], BaseException), results[-1]
            got = list(results[-1].predictions)
            assert len(results) < 10
        assert len(got) >= 1
    finally:
        control.stop()
        sender.close()
        source.stop()
        gen.close()
