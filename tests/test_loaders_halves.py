"""A big plain WISDM raw file parsed in two threads (``data.halves``): the same records, skips
and line numbers as one read and as the general path; anything unusual in either half still
takes the general path. The size threshold is lowered so small generated files take the path."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wisdm_files as W

from har_studio.data import formats, halves


def fingerprint(pf):
    if pf is None:
        return None
    t = pf.table
    return {"records_read": pf.records_read, "skipped": pf.skipped,
            "skipped_lines": pf.skipped_lines, "activities": pf.activities,
            "arrays": [np.asarray(a).tolist() for a in (t.subject, t.activity, t.timestamp,
                                                        t.rec, *t.channels.values())],
            "dtypes": [str(np.asarray(a).dtype) for a in (t.subject, t.activity, t.timestamp,
                                                          t.rec, *t.channels.values())],
            "lines": pf.lines(np.arange(min(len(t), 9)))}


@pytest.fixture
def split(monkeypatch):
    """Every file takes the two-thread path; returns a list that says whether it was used."""
    used: list[int] = []
    real = halves.read_in_two
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    monkeypatch.setattr(halves, "can_split", lambda: True)
    monkeypatch.setattr(halves, "read_in_two", lambda *a, **k: used.append(1) or real(*a, **k))
    return used


def check(monkeypatch, used: list[int], *paths: Path) -> dict:
    out = {}
    for path in paths:
        used.clear()
        two = formats.parse_plain_raw(path)
        split_used = bool(used)
        with monkeypatch.context() as m:
            m.setattr(halves, "MIN_BYTES", 1 << 62)
            one = formats.parse_plain_raw(path)
        data, _ = formats.read_text_bytes(path)
        general = formats.parse(path, data, formats.sniff(path, data))
        out[path.name] = {"split": split_used, "two": fingerprint(two), "one": fingerprint(one),
                          "general": fingerprint(general)}
    return out


def test_two_halves_read_as_one(tmp_path, monkeypatch, split):
    files = []
    for newline in ("\n", "\r\n"):
        path = tmp_path / f"quirky{len(newline)}.txt"
        W.write_v11_raw(path, subjects=(33, 7, 12), samples=60)
        path.write_text(re.sub(r";(?=[^\n])", ";\n", path.read_text()))
        path.write_bytes(path.read_bytes().replace(b"\n", newline.encode()))
        files.append(path)
    filters = list(warnings.filters)
    got = check(monkeypatch, split, *files)
    assert warnings.filters == filters   # silenced once, around both threads, and restored
    for name, res in got.items():
        assert res["split"], name
        assert res["two"] is not None and res["two"] == res["one"] == res["general"], name
        assert res["two"]["skipped"], name   # the quirks were read and counted in both halves


def test_unusual_halves_take_the_general_path(tmp_path, monkeypatch, split):
    base = tmp_path / "base.txt"
    W.write_v11_raw(base, subjects=(33, 7), quirks=False, samples=600)  # > the sniffed head
    records = base.read_text().split(";\n")
    text = ";\n".join(records)
    after_cut = text[:text.index(";", len(text.rstrip()) // 2) + 1].count(";")  # as middle_cut
    cases = {
        # a field too many in the record after the middle ';': the second half's first record
        "wide_after_cut.txt": records[:after_cut] + [records[after_cut] + ",7"]
        + records[after_cut + 1:],
        # a field too many late in the second half, and early in the first
        "wide_late.txt": records[:-3] + [records[-3] + ",7"] + records[-2:],
        "wide_early.txt": records[:3] + [records[3] + ",7"] + records[4:],
        # a non-ASCII label in the second half
        "latin_late.txt": records[:-3] + [records[-3].replace("Sitting", "Sittin\xe9")]
        + records[-2:],
    }
    paths = []
    for name, recs in cases.items():
        path = tmp_path / name
        path.write_bytes(";\n".join(recs).encode("latin-1"))
        paths.append(path)
    got = check(monkeypatch, split, *paths)
    for name, res in got.items():
        assert res["two"] is None and res["one"] is None, name
        assert res["general"] is not None, name
    # the record after the cut is checked before splitting; the others fail in one half
    assert not got["wide_after_cut.txt"]["split"]
    assert all(got[n]["split"] for n in ("wide_late.txt", "wide_early.txt", "latin_late.txt"))
    assert got["wide_late.txt"]["general"]["skipped"] == {"too many fields": 1}
    assert got["wide_after_cut.txt"]["general"]["skipped"] == {"too many fields": 1}


def test_trouble_in_the_second_half_reaches_the_caller(tmp_path):
    path = tmp_path / "plain.txt"
    W.write_v11_raw(path, quirks=False, samples=200)
    data = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)
    try:
        cut = halves.middle_cut(fd, len(data), 6)
        assert cut is not None and data[cut - 1:cut] == b";"

        def read(reader, size, boom=None):
            got = reader.read(size)
            if reader._pos > cut and boom is not None:   # the second half's thread
                raise boom
            return pd.DataFrame({"n": [len(got)]})

        assert halves.read_in_two(fd, cut, len(data), lambda r, n: read(r, n, ValueError()),
                                  (ValueError,)) is None
        with pytest.raises(MemoryError):
            halves.read_in_two(fd, cut, len(data), lambda r, n: read(r, n, MemoryError()),
                               (ValueError,))
        joined = halves.read_in_two(fd, cut, len(data), read, (ValueError,))
        assert joined["n"].tolist() == [cut, len(data) - cut]
    finally:
        os.close(fd)


def test_one_core_reads_in_one_piece(monkeypatch):
    from har_studio import threads

    monkeypatch.setattr(threads, "usable_cores", lambda: 1)
    assert not halves.can_split()
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    assert halves.can_split() == hasattr(os, "pread")
    monkeypatch.delattr(os, "pread", raising=False)   # Windows
    assert not halves.can_split()


def test_halves_with_other_activities_join_over_all_of_them(tmp_path, monkeypatch, split):
    """The first half holds only walking; the second jogging, sitting and a label of no known
    activity: the joined codes are over the union of both halves' categories."""
    path = tmp_path / "cats.txt"
    labels = ["Walking"] * 300 + ["Sitting", "Jogging", "Flying"] * 100
    path.write_text("".join(f"5,{a},{10**9 + k * 5 * 10**7},1.0,{k % 7}.5,0.25;\n"
                            for k, a in enumerate(labels)))
    got = check(monkeypatch, split, path)["cats.txt"]
    assert got["split"] and got["two"] == got["one"] == got["general"]
    assert got["two"]["records_read"] == 600 and not got["two"]["skipped"]
    # in the dataset's order: known activities first, others after them
    assert got["two"]["activities"] == ["walking", "jogging", "sitting", "flying"]
