"""``har-studio inspect``: the load report on the command line, and clean failures."""

from __future__ import annotations

import json

import pytest
import wisdm_files as W

from har_studio import cli
from har_studio.__main__ import main


@pytest.fixture(autouse=True)
def _only_inspect(monkeypatch):
    """Build the parser from the data area alone, so these tests do not depend on the other
    areas' subcommand modules."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", {"inspect": "har_studio.data.commands"})


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_json_report(tmp_path, capsys):
    expected = W.write_v11_raw(tmp_path / "WISDM_ar_v1.1_raw.txt")
    code, out, err = run(capsys, str(expected.path), "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    for key in ("format", "records", "skipped", "subjects", "activities", "channels",
                "sampling_hz", "records_read", "skipped_lines", "gaps", "warnings", "files"):
        assert key in report
    assert report["format"] == "wisdm-v1.1"
    assert report["records"] == expected.kept
    assert report["records_read"] == expected.records_read
    assert report["skipped"] == dict(expected.skipped)
    assert set(report["subjects"]) == expected.subjects
    assert report["activities"] == dict(expected.activities)
    assert report["channels"] == ["x", "y", "z"]
    assert report["sampling_hz"] == pytest.approx(20.0)


def test_inspect_readable_report_several_paths(tmp_path, capsys):
    s = W.write_2019_subject(tmp_path / "raw", 1600, activities="AB")
    c = W.write_headed_csv(tmp_path / "c.csv", subjects=(3,))
    code, out, err = run(capsys, str(tmp_path / "raw"), str(c.path))
    assert code == 0, err
    assert "Records" in out and f"{s.aligned + c.kept:,} kept" in out
    assert "walking" in out and "jogging" in out
    assert "Channels    x, y, z" in out  # csv has no gyroscope: common channels only
    assert "Warning" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("kind", W.BAD_KINDS)
def test_inspect_bad_input_exit_1_one_line(tmp_path, capsys, kind):
    path = W.write_bad_file(tmp_path / f"bad_{kind}.csv", kind)
    code, out, err = run(capsys, str(path), "--json")
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1 and path.name in err


def test_inspect_missing_path(tmp_path, capsys):
    code, out, err = run(capsys, str(tmp_path / "missing.txt"))
    assert code == 1
    assert "missing.txt" in err and err.count("\n") == 1


def test_inspect_reports_skips_with_places(tmp_path, capsys):
    expected = W.write_headed_csv(tmp_path / "bad.csv", text_values=1, missing=1)
    code, out, _ = run(capsys, str(expected.path))
    assert code == 0
    first_missing = expected.lines[W.MISSING][0]
    assert f"bad.csv:{first_missing}" in out
    assert f"not a number: {expected.skipped[W.NOT_A_NUMBER]}" in out
