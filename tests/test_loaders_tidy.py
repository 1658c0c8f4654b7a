"""Sorting recordings that come in several blocks (``loaders._tidy``): the block copy, the
gather by index for many blocks, and the row sort when blocks overlap in time, all give the
frame and report of a plain stable sort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from har_studio.data import loaders
from har_studio.data.loaders import load

ACTS = ["Walking", "Jogging", "Sitting"]


def write_blocks(path, rng, overlap: bool) -> tuple[pd.DataFrame, int, int]:
    """Recordings of 3 subjects x 3 activities cut into 4 blocks each, written in shuffled
    order; a recording's blocks stay in time order unless `overlap`. The last row of one
    block is written twice (an exact copy, joined to the recording's next block when sorted)
    and a row of another block is followed by other values at its time. Returns the rows as
    written and the lines of the copy and of the repeated time."""
    blocks = []
    for s in (5, 2, 9):
        for a in ACTS:
            n = 120
            t = np.arange(n) * 50_000_000 + 10**12 * s
            v = rng.normal(size=(n, 3)).round(4)
            rec = pd.DataFrame({"s": s, "a": a, "t": t, "x": v[:, 0], "y": v[:, 1],
                                "z": v[:, 2], "tag": ""})
            cuts = np.sort(rng.choice(np.arange(10, n - 10), size=3, replace=False))
            blocks.extend(rec.iloc[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, n],
                                                             strict=True))
    blocks[0] = pd.concat([blocks[0], blocks[0].iloc[[-1]].assign(tag="copy")])
    blocks[5] = pd.concat([blocks[5].iloc[:3], blocks[5].iloc[[2]].assign(x=99.0, tag="other"),
                           blocks[5].iloc[3:]])
    order = list(rng.permutation(len(blocks)))
    if not overlap:   # block k of every recording before block k + 1 of any
        order.sort(key=lambda i: i % 4)
    frame = pd.concat([blocks[i] for i in order], ignore_index=True)
    path.write_text("".join(f"{r.s},{r.a},{r.t},{r.x},{r.y},{r.z};\n"
                            for r in frame.itertuples()))
    line = {tag: int(np.flatnonzero(frame["tag"] == tag)[0]) + 1 for tag in ("copy", "other")}
    return frame, line["copy"], line["other"]


def expected(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain stable sort: subjects ascending, a subject's recordings in order of first
    appearance, time ascending, the first of equal timestamps kept."""
    f = frame.copy()
    first = {k: i for i, k in reversed(list(enumerate(zip(f["s"], f["a"], strict=True))))}
    f["r"] = [first[k] for k in zip(f["s"], f["a"], strict=True)]
    f = f.sort_values(["s", "r", "t"], kind="stable")
    return f.drop_duplicates(["s", "a", "t"], keep="first")


@pytest.mark.parametrize("many", [False, True])
@pytest.mark.parametrize("overlap", [False, True])
def test_blocks_sorted_as_a_stable_sort(tmp_path, monkeypatch, overlap, many):
    if many:   # the gather by index taken for files of thousands of blocks
        monkeypatch.setattr(loaders, "_MAX_COPIED_BLOCKS", 2)
    rng = np.random.default_rng(7 + overlap)
    frame, copy_line, other_line = write_blocks(tmp_path / "raw.txt", rng, overlap)
    ds = load(tmp_path / "raw.txt")
    want = expected(frame)
    got = ds.frame
    np.testing.assert_array_equal(got["subject"], want["s"])
    np.testing.assert_array_equal(got["activity"].astype(str), want["a"].str.lower())
    np.testing.assert_array_equal(got["timestamp"], want["t"])
    np.testing.assert_array_equal(got["x"], want["x"].astype(np.float32))
    r = ds.report
    assert r.skipped == {"duplicate record": 1, "repeated timestamp": 1}
    assert r.records == len(want) and r.gaps == 0 and r.sampling_hz == pytest.approx(20.0)
    assert r.subjects == [2, 5, 9]
    assert r.skipped_lines == {"duplicate record": [f"raw.txt:{copy_line}"],
                               "repeated timestamp": [f"raw.txt:{other_line}"]}


def test_counts_of_runs_equal_the_counts_of_rows():
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 50, size=40)
    run_codes = rng.integers(0, 6, size=40)
    codes = np.repeat(run_codes, lengths).astype(np.int32)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    counts = loaders._counts(codes, starts, 8)
    assert counts.dtype == np.int64
    assert counts.tolist() == np.bincount(codes, minlength=8).tolist()
    assert loaders._counts(codes, None, 8).tolist() == counts.tolist()


def test_the_median_of_integers_is_numpys():
    rng = np.random.default_rng(8)
    for m in (1, 2, 3, 4, 999, 1000, 1001):
        for _ in range(30):
            values = rng.integers(1, 10**12, size=m)
            assert loaders._median(values) == float(np.median(values))
    steady = np.full(10, 50_000_000, np.int64)
    assert loaders._median(steady) == 50_000_000.0
