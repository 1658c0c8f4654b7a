"""Thread policy: how many CPU threads torch uses for live inference and for training.

A desktop app shares its machine (the GUI thread, a browser, a second training). With as many
OpenMP threads as cores, one busy process elsewhere makes every parallel region wait for a
descheduled thread, so the defaults here leave room, chosen by measurement
(``bench/bench_live.py``, ``bench/bench_train.py``; figures in docs/speed.md):

- live inference (one window at a time): 1 thread; a batch of one gains nothing from two.
- training: every usable core (torch's default count, unless the process lowered it), minus
  one while the app's window is open (the GUI thread needs a core to stay responsive), minus
  the cores other processes keep busy when the training starts (``other_runnable``);
  ``TrainConfig.threads`` overrides it; the recipe records what was used.
- OpenMP waits passively (``OMP_WAIT_POLICY=PASSIVE``): idle worker threads sleep instead of
  spinning on a core another thread or process needs. OpenMP reads it once, when torch is
  first imported, so ``har_studio/__init__.py`` calls ``apply_wait_policy()`` before anything
  imports torch; a value the user set in the environment wins.

torch's thread count is per thread for OpenMP work: ``use_threads(n)`` sets it in the calling
thread (the one that then runs the work), so a live session and a training can each have
their own.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
DEFAULT_WAIT_POLICY = "PASSIVE"
LIVE_THREADS = 1


def apply_wait_policy() -> str:
    """Set ``OMP_WAIT_POLICY`` to passive unless the user chose a value; returns the value in
    force (it only takes effect if torch has not been imported yet)."""
    return os.environ.setdefault(WAIT_POLICY_ENV, DEFAULT_WAIT_POLICY)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def other_runnable(samples: int = 5, interval_s: float = 0.01) -> int:
    """How many threads of other work are runnable right now (Linux: the median of a few
    readings of ``/proc/loadavg``'s running count, less this thread); 0 where unknown."""
    import time

    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return 0
        if i + 1 < samples:
            time.sleep(interval_s)
    counts.sort()
    return max(0, counts[len(counts) // 2] - 1)


def gui_running() -> bool:
    """True when the app's window is up in this process (Qt widgets are loaded). Never imports
    Qt: the core stays Qt-free."""
    return "PySide6.QtWidgets" in sys.modules


def training_threads(requested: int = 0, *, gui: bool | None = None,
                     current: int | None = None, busy: int | None = None) -> int:
    """Threads for training: `requested` when positive; else torch's current count (every
    core unless the process lowered it), at most the usable cores less one while the GUI is
    up and less the cores other processes keep busy now (`busy`, default measured by
    ``other_runnable``), at least 1. A parallel region waits for its slowest thread, so a
    thread that has to share its core with another process slows the whole training."""
    if requested and requested > 0:
        return int(requested)
    if current is None:
        current = baseline_threads()
    cores = usable_cores()
    if gui if gui is not None else gui_running():
        cores -= 1
    if int(current) > 1 and cores > 1:
        cores -= other_runnable() if busy is None else busy
    return max(1, min(int(current), cores))


def live_threads() -> int:
    """Threads for live (streaming) inference."""
    return LIVE_THREADS


_baseline: int | None = None


def baseline_threads() -> int:
    """torch's thread count before this module first changed it (its default, or what the
    process set): a live session lowering its own thread's count must not shrink a training
    started later, as new threads inherit torch's last setting."""
    import torch

    return _baseline if _baseline is not None else torch.get_num_threads()


def use_threads(n: int) -> int:
    """Set torch's CPU threads for work run by the calling thread; returns the previous count."""
    global _baseline
    import torch

    previous = torch.get_num_threads()
    if _baseline is None:
        _baseline = previous
    if n != previous:
        torch.set_num_threads(max(1, int(n)))
    return previous


def describe(threads: int | None = None) -> dict:
    """The policy in force, for a recipe, the UI or a bench: threads used (when given), the
    OpenMP wait policy and the usable cores."""
    out = {"omp_wait_policy": os.environ.get(WAIT_POLICY_ENV, "default"),
           "usable_cores": usable_cores(), "live_threads": live_threads()}
    if threads is not None:
        out["threads"] = int(threads)
    return out
