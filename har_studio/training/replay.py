"""A stored sample of a model's training windows, replayed when it is calibrated.

Calibrating on some activities only (a 20 s walk, or the guide with activities skipped) used
to teach the model that everything is one of them: fine-tuned on walking alone it called
everything walking. A model therefore carries a small, stratified sample of the windows it was
trained on (``ModelBundle.replay``: per activity, windows of many people, in the model's input
frame before derivation: aligned to each person's upright when the model aligns). Calibration
trains on the person's windows *and* this sample, so what the base model knew of the
activities not captured stays, and checks that on a part of the sample it did not train on.

Qt-free, numpy only; the sample is saved inside the model file (``model.io``).
"""

from __future__ import annotations

import numpy as np

from ..data.windows import Windows

REPLAY_PER_CLASS = 64          # windows per activity a trained model keeps (~0.1 MB each 64)
REPLAY_SUBJECT = -1            # the subject id replayed windows carry in a calibration set


def replay_indices(y: np.ndarray, subjects: np.ndarray, labels: list[str],
                   per_class: int = REPLAY_PER_CLASS, seed: int = 0) -> dict[str, np.ndarray]:
    """Up to `per_class` window indices of each class, spread evenly over the subjects (round
    robin over people, random within a person). ``{label: sorted indices}``, classes with
    windows only."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    y = np.asarray(y)
    subjects = np.asarray(subjects)
    for index, label in enumerate(labels):
        rows = np.flatnonzero(y == index)
        if not len(rows):
            continue
        by_person = [rng.permutation(rows[subjects[rows] == s]).tolist()
                     for s in rng.permutation(np.unique(subjects[rows]))]
        chosen: list[int] = []
        while len(chosen) < per_class and any(by_person):
            for queue in by_person:
                if queue and len(chosen) < per_class:
                    chosen.append(queue.pop())
        out[label] = np.sort(np.asarray(chosen, np.int64))
    return out


def sample_replay(prepared, per_class: int = REPLAY_PER_CLASS, seed: int = 0
                  ) -> dict[str, np.ndarray]:
    """The sample a model trained on `prepared` (``PreparedData``) keeps: its training
    windows, chosen by ``replay_indices``, in each person's aligned frame (the frame the
    network's inputs are derived from)."""
    train = prepared.train
    picks = replay_indices(train.y, train.subjects, list(train.labels), per_class, seed)
    return {label: np.ascontiguousarray(prepared.aligned(train.subset(idx)), np.float32)
            for label, idx in picks.items()}


def split_replay(replay: dict[str, np.ndarray], labels: list[str], channels: list[str],
                 config, check_fraction: float = 0.25, seed: int = 0
                 ) -> tuple[Windows, Windows]:
    """(windows to train on, windows to check on) from a stored sample: per class, a
    `check_fraction` (at least one window when there are two or more) is kept for the check.
    Both carry the subject id ``REPLAY_SUBJECT``."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "check": []}
    for index, label in enumerate(labels):
        X = replay.get(label)
        if X is None or not len(X):
            continue
        order = rng.permutation(len(X))
        n_check = int(round(len(X) * check_fraction)) if len(X) > 1 else 0
        n_check = max(n_check, 1) if len(X) > 1 and check_fraction > 0 else n_check
        parts["check"].append((X[order[:n_check]], index))
        parts["train"].append((X[order[n_check:]], index))
    return (_as_windows(parts["train"], labels, channels, config),
            _as_windows(parts["check"], labels, channels, config))


def _as_windows(parts: list, labels: list[str], channels: list[str], config) -> Windows:
    size = config.size
    if parts:
        X = np.concatenate([p[0] for p in parts]).astype(np.float32)
        y = np.concatenate([np.full(len(p[0]), p[1], np.int64) for p in parts])
    else:
        X = np.zeros((0, size, len(channels)), np.float32)
        y = np.zeros(0, np.int64)
    n = len(y)
    return Windows(X, y, np.full(n, REPLAY_SUBJECT, np.int64), np.zeros(n, np.int64),
                   list(labels), list(channels), config)


def concat_windows(parts: list[Windows]) -> Windows:
    """One Windows of several with the same labels, channels and configuration."""
    first = parts[0]
    return Windows(np.concatenate([p.X for p in parts]).astype(np.float32),
                   np.concatenate([p.y for p in parts]),
                   np.concatenate([p.subjects for p in parts]),
                   np.concatenate([p.starts for p in parts]),
                   list(first.labels), list(first.channels), first.config)


def recall_per_class(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """``{label: recall}`` for the classes present in `y_true`."""
    out = {}
    for index, label in enumerate(labels):
        rows = y_true == index
        if rows.any():
            out[label] = float((y_pred[rows] == index).mean())
    return out
