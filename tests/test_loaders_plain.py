"""The streamed fast path for plain WISDM raw files (``formats.parse_plain_raw``): it must give
exactly what the general path gives, and step aside for anything else."""

from __future__ import annotations

import re

import numpy as np
import pytest
import wisdm_files as W

from har_studio.data import formats
from har_studio.data.loaders import load


def general(path):
    """The general path: the whole file in memory, ';' translated."""
    data, _ = formats.read_text_bytes(path)
    return formats.parse(path, data, formats.sniff(path, data))


def assert_same(a: formats.ParsedFile, b: formats.ParsedFile) -> None:
    assert a.format == b.format and a.records_read == b.records_read
    assert a.skipped == b.skipped and a.skipped_lines == b.skipped_lines
    assert a.activities == b.activities
    ta, tb = a.table, b.table
    for name in ("subject", "activity", "timestamp", "rec"):
        np.testing.assert_array_equal(getattr(ta, name), getattr(tb, name))
    assert ta.channels.keys() == tb.channels.keys()
    for c in ta.channels:
        np.testing.assert_array_equal(ta.channels[c], tb.channels[c])
    rows = np.arange(min(len(ta), 7))
    assert a.lines(rows) == b.lines(rows)


def quirky(path, split: bool):
    """The quirky v1.1 file (placeholder, duplicate, repeated and missing-value records, two
    records sharing a line, spaces after commas, blank lines); `split` puts every record alone
    on its line."""
    W.write_v11_raw(path, subjects=(33, 7), samples=40)
    if split:
        path.write_text(re.sub(r";(?=[^\n])", ";\n", path.read_text()))
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("split", [True, False])
def test_plain_file_streamed_equals_general_path(tmp_path, newline, split):
    path = quirky(tmp_path / "raw.txt", split)
    path.write_bytes(path.read_bytes().replace(b"\n", newline.encode()))
    fast = formats.parse_plain_raw(path)
    assert fast is not None, "WISDM raw records in ASCII must take the streamed path"
    slow = general(path)
    assert_same(fast, slow)
    assert fast.skipped[formats.MISSING_VALUE] > 0 and fast.skipped[formats.PLACEHOLDER] > 0
    # the whole load (duplicates, repeated timestamps, their line numbers) agrees too
    ds = load(path)
    assert ds.report.skipped["duplicate record"] > 0
    lines = path.read_bytes().split(b"\n")
    for place in ds.report.skipped_lines["duplicate record"]:
        n = int(place.rsplit(":", 1)[1])
        assert lines[n - 1].strip() == lines[n - 2].strip()   # the copy follows its original


@pytest.mark.parametrize("change, reason", [
    (lambda t: t.replace(";\n", ",7;\n", 1), "a record with 7 fields"),
    (lambda t: t.replace(";\n", ",7,8;\n", 1), "a record with 8 fields"),
    (lambda t: t.replace(";\n", ";\n;\n", 1), "an empty record"),
    (lambda t: t.replace(";\n", ";\n" + "9" * 300_000 + "\n", 3), "300 kB without a ';'"),
    (lambda t: "subject,activity,timestamp,x,y,z\n" + t.replace(";", ""), "a headed CSV"),
])
def test_other_shapes_take_the_general_path(tmp_path, change, reason):
    path = tmp_path / "raw.txt"
    W.write_v11_raw(path, subjects=(33,), quirks=False, samples=40)
    path.write_text(change(path.read_text()))
    assert formats.parse_plain_raw(path) is None, reason
    assert load(path).report.records >= 39


def test_unterminated_last_record_and_trailing_blanks(tmp_path):
    path = tmp_path / "raw.txt"
    W.write_v11_raw(path, subjects=(33,), quirks=False, samples=40)
    text = path.read_text()
    path.write_text(text.rstrip().rstrip(";") + "\n\n   \n")
    fast = formats.parse_plain_raw(path)
    assert fast is not None and fast.records_read == 120   # 3 activities x 40
    assert_same(fast, general(path))


def test_non_ascii_and_huge_ids_take_the_general_path(tmp_path):
    path = tmp_path / "raw.txt"
    W.write_v11_raw(path, subjects=(33,), quirks=False, samples=40)
    text = path.read_text()
    latin = tmp_path / "latin.txt"
    latin.write_bytes(text.replace("Walking", "Walking\xe9", 1).encode("latin-1"))
    assert formats.parse_plain_raw(latin) is None
    huge = tmp_path / "huge.txt"
    huge.write_text(text.replace("33,", str(2**63 + 5) + ",", 1))
    assert formats.parse_plain_raw(huge) is None
    report = load(huge).report
    assert report.skipped[formats.BAD_SUBJECT] == 1
    assert report.skipped_lines[formats.BAD_SUBJECT] == ["huge.txt:1"]


def test_old_mac_line_ends_number_lines_as_the_general_path(tmp_path):
    path = quirky(tmp_path / "raw.txt", split=True)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    fast = formats.parse_plain_raw(path)
    assert fast is not None
    assert_same(fast, general(path))
    assert max(fast.skipped_lines[formats.MISSING_VALUE]) > 1


@pytest.mark.parametrize("where", ["middle", "last"])
@pytest.mark.parametrize("extra", [",7", ","])
def test_a_field_too_many_after_the_first_record_takes_the_general_path(tmp_path, where, extra):
    """The streamed read has exactly 6 columns: the C parser refuses a wider record anywhere
    but in the first one (which the head check covers)."""
    path = tmp_path / "raw.txt"
    W.write_v11_raw(path, subjects=(33,), quirks=False, samples=40)
    records = path.read_text().split(";\n")
    k = len(records) // 2 if where == "middle" else len(records) - 2
    records[k] += extra
    path.write_text(";\n".join(records))
    assert formats.parse_plain_raw(path) is None
    report = load(path).report
    if extra == ",":   # an empty last field: the general path reads the record as it is
        assert report.records == 120 and not report.skipped
    else:
        assert report.skipped[formats.TOO_MANY_FIELDS] == 1
        assert report.skipped_lines[formats.TOO_MANY_FIELDS] == [f"raw.txt:{k + 1}"]


@pytest.mark.parametrize("lead", ["", ";\n", "\n\n"])
def test_first_record_with_a_trailing_comma_takes_the_general_path(tmp_path, lead):
    path = tmp_path / "raw.txt"
    W.write_v11_raw(path, subjects=(33,), quirks=False, samples=40)
    path.write_text(lead + path.read_text().replace(";\n", ",;\n", 1))
    assert formats.parse_plain_raw(path) is None
    assert load(path).report.records >= 119
