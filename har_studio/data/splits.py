"""Train / validation / test splits of windows, and per-channel normalisation.

By subject (the default, an honest estimate for new people) or randomly by window (the
protocol behind the published 97.8 %, which leaks: overlapping neighbours of a test window
sit in the training set).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .windows import Windows

RANDOM_SPLIT_WARNING = (
    "Random window split: overlapping windows of the same recording land in both training and "
    "test sets, so test accuracy overstates accuracy on new people. Use a subject split for an "
    "honest figure."
)


@dataclass(frozen=True)
class SplitConfig:
    kind: str = "subject"                 # "subject" or "random"
    test_subjects: tuple[int, ...] = ()   # subject split: chosen test subjects (else seeded pick)
    val_subjects: tuple[int, ...] = ()
    test_fraction: float = 0.2            # of subjects (subject split) or windows (random split)
    val_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("subject", "random"):
            raise ValueError(f"split must be 'subject' or 'random', got {self.kind!r}")
        if not (0 <= self.test_fraction < 1 and 0 <= self.val_fraction < 1
                and self.test_fraction + self.val_fraction < 1):
            raise ValueError("test and validation fractions must be in [0, 1) and sum below 1")
        overlap = set(self.test_subjects) & set(self.val_subjects)
        if overlap:
            raise ValueError(f"subjects {sorted(overlap)} are both test and validation subjects")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "test_subjects": list(self.test_subjects),
                "val_subjects": list(self.val_subjects), "test_fraction": self.test_fraction,
                "val_fraction": self.val_fraction, "seed": self.seed}

    @classmethod
    def from_dict(cls, d: dict) -> SplitConfig:
        return cls(kind=d.get("kind", "subject"),
                   test_subjects=tuple(int(s) for s in d.get("test_subjects", ())),
                   val_subjects=tuple(int(s) for s in d.get("val_subjects", ())),
                   test_fraction=float(d.get("test_fraction", 0.2)),
                   val_fraction=float(d.get("val_fraction", 0.15)), seed=int(d.get("seed", 0)))


@dataclass
class Split:
    kind: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_subjects: list[int] = field(default_factory=list)
    val_subjects: list[int] = field(default_factory=list)
    test_subjects: list[int] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        return RANDOM_SPLIT_WARNING if self.kind == "random" else None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "train_windows": int(len(self.train)),
                "val_windows": int(len(self.val)), "test_windows": int(len(self.test)),
                "train_subjects": self.train_subjects, "val_subjects": self.val_subjects,
                "test_subjects": self.test_subjects}


def _pick_count(n: int, fraction: float, at_least_one: bool) -> int:
    k = int(round(n * fraction))
    if at_least_one and fraction > 0 and n > 1:
        k = max(k, 1)
    return k


def split_windows(windows: Windows, config: SplitConfig | None = None) -> Split:
    config = config or SplitConfig()
    n = len(windows)
    rng = np.random.default_rng(config.seed)
    if config.kind == "random":
        order = rng.permutation(n)
        n_test = _pick_count(n, config.test_fraction, True)
        n_val = _pick_count(n, config.val_fraction, True)
        test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
        subjects = sorted(int(s) for s in np.unique(windows.subjects))
        return Split("random", np.sort(train), np.sort(val), np.sort(test), subjects, subjects, subjects)

    subjects = sorted(int(s) for s in np.unique(windows.subjects))
    unknown = [s for s in (*config.test_subjects, *config.val_subjects) if s not in subjects]
    if unknown:
        raise ValueError(f"subject(s) {', '.join(map(str, unknown))} have no windows "
                         f"(subjects with windows: {', '.join(map(str, subjects))})")
    test_s = list(config.test_subjects)
    val_s = list(config.val_subjects)
    rest = [s for s in subjects if s not in test_s and s not in val_s]
    shuffled = [rest[i] for i in rng.permutation(len(rest))]
    if not test_s:
        k = min(_pick_count(len(subjects), config.test_fraction, True), max(len(shuffled) - 1, 0))
        test_s, shuffled = shuffled[:k], shuffled[k:]
    if not val_s:
        k = min(_pick_count(len(subjects), config.val_fraction, True), max(len(shuffled) - 1, 0))
        val_s, shuffled = shuffled[:k], shuffled[k:]
    train_s = sorted(shuffled)
    if not train_s:
        raise ValueError("a subject split needs at least one training subject; "
                         f"only {len(subjects)} subject(s) have windows")
    idx = np.arange(n)
    return Split(
        "subject",
        idx[np.isin(windows.subjects, train_s)],
        idx[np.isin(windows.subjects, val_s)],
        idx[np.isin(windows.subjects, test_s)],
        train_s, sorted(val_s), sorted(test_s),
    )


def subject_folds(subjects, k: int, seed: int = 0) -> list[list[int]]:
    """Partition subjects into k folds (every subject in exactly one), seeded, sizes within 1."""
    subjects = sorted(int(s) for s in set(subjects))
    if k < 2 or k > len(subjects):
        raise ValueError(f"cross-validation needs 2 <= k <= number of subjects ({len(subjects)}), got {k}")
    order = np.random.default_rng(seed).permutation(len(subjects))
    return [sorted(subjects[i] for i in order[f::k]) for f in range(k)]


@dataclass
class Normaliser:
    """Per-channel z-score, fitted on training windows only and saved inside the model file."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Normaliser:
        flat = X.reshape(-1, X.shape[-1]).astype(np.float64)
        mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        std = np.where(std < 1e-8, 1.0, std)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    @classmethod
    def identity(cls, channels: int) -> Normaliser:
        return cls(np.zeros(channels, np.float32), np.ones(channels, np.float32))

    def apply(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> Normaliser:
        mean = np.asarray(d["mean"], dtype=np.float32)
        std = np.asarray(d["std"], dtype=np.float32)
        if mean.shape != std.shape or mean.ndim != 1 or not np.all(np.isfinite(mean)) or not np.all(std > 0):
            raise ValueError("normalisation statistics are malformed")
        return cls(mean, std)
