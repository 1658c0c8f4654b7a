"""A big plain WISDM raw file parsed in two processes (``data.halves``): the same records,
skips and line numbers as one read and as the general path; anything unusual in either half
still takes the general path. Run in a fresh interpreter (no other thread may exist when a
process forks), with the size threshold lowered so small generated files take the path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import wisdm_files as W

CHECK = r'''
import json, sys
from pathlib import Path
import numpy as np
from har_studio.data import formats, halves
halves.MIN_BYTES = 0
halves._spare_core = lambda: True   # whatever else runs on the machine now
assert halves.can_fork()
used = []
real = halves.read_in_two
halves.read_in_two = lambda *a, **k: used.append(1) or real(*a, **k)

def fingerprint(pf):
    if pf is None:
        return None
    t = pf.table
    return {"records_read": pf.records_read, "skipped": pf.skipped,
            "skipped_lines": pf.skipped_lines, "activities": pf.activities,
            "arrays": [np.asarray(a).tolist() for a in (t.subject, t.activity, t.timestamp,
                                                        t.rec, *t.channels.values())],
            "lines": pf.lines(np.arange(min(len(t), 9)))}

out = {}
for name in sys.argv[1:]:
    path = Path(name)
    used.clear()
    two = formats.parse_plain_raw(path)
    halves.MIN_BYTES = 1 << 62
    one = formats.parse_plain_raw(path)
    halves.MIN_BYTES = 0
    data, _ = formats.read_text_bytes(path)
    general = formats.parse(path, data, formats.sniff(path, data))
    out[path.name] = {"forked": bool(used), "two": fingerprint(two), "one": fingerprint(one),
                      "general": fingerprint(general)}
print(json.dumps(out))
'''


def run_check(*paths: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHECK, *map(str, paths)], capture_output=True,
                          text=True, check=True, timeout=120)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_halves_read_as_one(tmp_path):
    files = []
    for newline in ("\n", "\r\n"):
        path = tmp_path / f"quirky{len(newline)}.txt"
        W.write_v11_raw(path, subjects=(33, 7, 12), samples=60)
        path.write_text(re.sub(r";(?=[^\n])", ";\n", path.read_text()))
        path.write_bytes(path.read_bytes().replace(b"\n", newline.encode()))
        files.append(path)
    got = run_check(*files)
    for name, res in got.items():
        assert res["forked"], name
        assert res["two"] is not None and res["two"] == res["one"] == res["general"], name
        assert res["two"]["skipped"], name   # the quirks were read and counted in both halves


def test_unusual_halves_take_the_general_path(tmp_path):
    base = tmp_path / "base.txt"
    W.write_v11_raw(base, subjects=(33, 7), quirks=False, samples=600)  # > the sniffed head
    records = base.read_text().split(";\n")
    text = ";\n".join(records)
    after_cut = text[:text.index(";", len(text.rstrip()) // 2) + 1].count(";")  # as middle_cut
    cases = {
        # a field too many in the record after the middle ';': the child's first record
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
    got = run_check(*paths)
    for name, res in got.items():
        assert res["two"] is None and res["one"] is None, name
        assert res["general"] is not None, name
    # the record after the cut is checked before forking; the others fail in one half
    assert not got["wide_after_cut.txt"]["forked"]
    assert all(got[n]["forked"] for n in ("wide_late.txt", "wide_early.txt", "latin_late.txt"))
    assert got["wide_late.txt"]["general"]["skipped"] == {"too many fields": 1}
    assert got["wide_after_cut.txt"]["general"]["skipped"] == {"too many fields": 1}


def test_no_fork_without_a_spare_core(monkeypatch):
    from har_studio import threads
    from har_studio.data import halves

    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "other_runnable", lambda **_: 2)
    assert not halves._spare_core()
    monkeypatch.setattr(threads, "other_runnable", lambda **_: 1)
    assert halves._spare_core()
