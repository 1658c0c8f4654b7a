"""The edit model of the Data tab's labelling (no Qt): spans, edits, undo, saving, sidecar."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from har_studio.data.demo import demo_dataset, write_demo_files
from har_studio.data.labels import (
    UNLABELLED,
    Edit,
    EditSession,
    apply_edits,
    read_edits,
    save_edits,
    unlabelled_count,
)
from har_studio.data.loaders import load
from har_studio.data.sidecar import read_sidecar, sidecar_path
from har_studio.data.windows import WindowConfig, make_windows


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values(["subject", "timestamp"], kind="stable").reset_index(drop=True)
    out["activity"] = out["activity"].astype(str)
    return out


def _rows(frame, subject, activity):
    return frame[(frame["subject"] == subject) & (frame["activity"] == activity)]


@pytest.fixture
def frame():
    return demo_dataset(subjects=2, seconds_per_activity=20.0).frame


def test_label_a_span_changes_exactly_its_samples(frame):
    walk = _rows(frame, 1, "walking")
    ts = walk["timestamp"].to_numpy()
    edit = Edit.label(1, ts[100], ts[150], "jogging", only="walking")
    out = apply_edits(frame, [edit]).frame
    assert len(out) == len(frame)
    assert len(_rows(out, 1, "walking")) == len(walk) - 50
    assert len(_rows(out, 1, "jogging")) == len(_rows(frame, 1, "jogging")) + 50
    assert len(_rows(out, 2, "walking")) == len(_rows(frame, 2, "walking"))   # other subject
    assert len(_rows(frame, 1, "walking")) == len(walk)                       # input untouched
    assert list(out["activity"].cat.categories) == list(frame["activity"].cat.categories)


def test_unlabelled_spans_make_no_windows_and_are_counted(frame):
    walk = _rows(frame, 1, "walking")
    t0, t1 = int(walk["timestamp"].iloc[0]), int(walk["timestamp"].iloc[-1]) + 1
    out = apply_edits(frame, [Edit.label(1, t0, t1, UNLABELLED)]).frame
    assert unlabelled_count(out) == len(walk) and unlabelled_count(frame) == 0
    cfg = WindowConfig(size=40, step=20)
    before, after = make_windows(frame, cfg), make_windows(out, cfg)
    assert UNLABELLED not in after.labels and "walking" in after.labels  # subject 2 walks
    per_run = (len(walk) - 40) // 20 + 1
    assert len(after) == len(before) - per_run
    assert after.class_counts()["walking"] == before.class_counts()["walking"] - per_run


def test_delete_crop_and_split(frame):
    ts = frame[frame["subject"] == 1]["timestamp"].to_numpy()
    deleted = apply_edits(frame, [Edit.delete(1, ts[0], ts[60])]).frame
    assert len(deleted) == len(frame) - 60
    assert int(deleted[deleted["subject"] == 1]["timestamp"].min()) == ts[60]
    cropped = apply_edits(frame, [Edit.crop(1, ts[10], ts[30])]).frame
    assert (cropped["subject"] == 1).sum() == 20
    assert (cropped["subject"] == 2).sum() == (frame["subject"] == 2).sum()
    jog = _rows(frame, 1, "jogging")
    mid = int(jog["timestamp"].iloc[150])
    split = apply_edits(frame, [Edit.split(1, mid)])
    assert split.part_count == 2
    later = (frame["subject"] == 1).to_numpy() & (frame["timestamp"].to_numpy() >= mid)
    np.testing.assert_array_equal(split.parts == 1, later)


def test_edits_that_change_nothing_are_refused(frame):
    late = int(frame["timestamp"].max()) + 10**12
    with pytest.raises(ValueError, match="no samples"):
        apply_edits(frame, [Edit.label(1, late, late + 10**9, "walking")])
    with pytest.raises(ValueError, match="both sides"):
        apply_edits(frame, [Edit.split(1, late)])
    ts = frame["timestamp"]
    with pytest.raises(ValueError, match="nothing would be left"):
        apply_edits(frame[frame["subject"] == 1],
                    [Edit.delete(1, int(ts.min()), int(ts.max()) + 1)])
    for bad in ({"kind": "paint", "subject": 1, "start_ns": 0, "end_ns": 1},
                {"kind": "label", "subject": 1, "start_ns": 5, "end_ns": 1, "activity": "a"},
                {"kind": "label", "subject": 1, "start_ns": 0, "end_ns": 1, "activity": "a,b"},
                {"kind": "delete", "start_ns": 0, "end_ns": 1}, "label"):
        with pytest.raises(ValueError):
            Edit.from_dict(bad)


def test_session_undo_returns_to_the_state_before(frame):
    session = EditSession(frame)
    ts = frame["timestamp"].to_numpy()
    t0 = ts[0]
    session.push(Edit.label(1, ts[0], ts[40], UNLABELLED))
    after_one = session.frame.copy()
    session.push(Edit.delete(1, ts[40], ts[80]))
    assert session.summary() == {"records": len(frame) - 40, "removed": 40, "unlabelled": 40,
                                 "parts": 1, "edits": 2}
    assert session.pop().kind == "delete"
    pd.testing.assert_frame_equal(session.frame, after_one)
    session.pop()
    pd.testing.assert_frame_equal(session.frame, frame)
    with pytest.raises(ValueError):      # a refused edit leaves the session as it was
        session.push(Edit.label(7, t0, t0 + 1, "walking"))
    assert session.edits == []


def test_saved_copy_reloads_as_edited_and_the_sidecar_replays(tmp_path):
    src = write_demo_files(tmp_path, subjects=2, seconds_per_activity=20.0)[0]
    original_bytes = src.read_bytes()
    ds = load([src])
    session = EditSession(ds.frame, [src])
    ts = _rows(ds.frame, 2, "walking")["timestamp"].to_numpy()
    session.push(Edit.label(2, ts[0], ts[100], UNLABELLED, only="walking"))
    session.push(Edit.label(2, ts[100], ts[200], "sitting"))
    session.push(Edit.crop(1, int(ds.frame["timestamp"].min()),
                           int(_rows(ds.frame, 1, "sitting")["timestamp"].max()) + 1))
    files, sidecar = save_edits(session)
    assert files == [tmp_path / "demo_wisdm_v11.labelled.txt"] and src.read_bytes() == original_bytes
    assert sidecar == sidecar_path(files[0]) == tmp_path / "demo_wisdm_v11.labelled.txt.harstudio.json"
    assert files[0].read_text().startswith("1,Walking,")
    reloaded = load(files)
    pd.testing.assert_frame_equal(_sorted(reloaded.frame), _sorted(session.frame))
    assert unlabelled_count(reloaded.frame) == 100
    assert read_edits(src) is None                            # the original is no saved copy
    record = read_edits(files[0])
    assert record.edits == session.edits and record.files == [files[0].name]
    assert record.sources[0]["file"] == src.name and len(record.sources[0]["sha256"]) == 64
    replayed = apply_edits(load([src]).frame, record.edits).frame
    pd.testing.assert_frame_equal(_sorted(replayed), _sorted(reloaded.frame))
    # a second save never replaces the first
    files2, sidecar2 = save_edits(session)
    assert files2 == [tmp_path / "demo_wisdm_v11.labelled-2.txt"] and sidecar2 != sidecar


def test_split_saves_one_file_per_part_and_gyro_as_csv(tmp_path):
    ds = demo_dataset(subjects=1, seconds_per_activity=10.0, gyro=True)
    session = EditSession(ds.frame)
    mid = int(_rows(ds.frame, 1, "sitting")["timestamp"].iloc[100])
    session.push(Edit.split(1, mid))
    files, sidecar = save_edits(session, folder=tmp_path, name="demo")
    assert [f.name for f in files] == ["demo.labelled.part1.csv", "demo.labelled.part2.csv"]
    assert sidecar == sidecar_path(files[0])
    assert read_edits(files[1]).files == [f.name for f in files]   # each part says its origin
    first, second = load([files[0]]).frame, load([files[1]]).frame
    assert int(first["timestamp"].max()) < mid <= int(second["timestamp"].min())
    both = load(files).frame
    assert list(both.columns) == list(ds.frame.columns)
    pd.testing.assert_frame_equal(_sorted(both), _sorted(ds.frame), check_exact=True)


def test_a_bad_edit_record_is_one_line_and_other_sidecar_keys_stay(tmp_path):
    data = tmp_path / "x.txt"
    data.write_text("1,Walking,50000000,1,2,3;\n1,Walking,100000000,1,2,4;\n")
    sidecar_path(data).write_text(json.dumps({"subject": "alice", "edits": {"format": "?"}}))
    with pytest.raises(ValueError, match=r"^x\.txt\.harstudio\.json: not a HAR Studio"):
        read_edits(data)
    session = EditSession(load([data]).frame, [data])
    session.push(Edit.label(1, 0, 60000000, UNLABELLED))
    files, sidecar = save_edits(session)
    assert read_sidecar(files[0])["edits"]["edits"][0]["activity"] == UNLABELLED
    assert read_sidecar(data)["subject"] == "alice"          # the original's sidecar untouched
