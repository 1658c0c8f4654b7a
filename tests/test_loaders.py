"""Loading WISDM v1.1, WISDM 2019 and headed CSV files with their quirks, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import wisdm_files as W

from har_studio.data.dataset import DataError
from har_studio.data.loaders import LoadProgress, load, load_iter
from har_studio.data.windows import WindowConfig, make_windows


def assert_matches(ds, expected: W.Expected) -> None:
    """The report and frame agree with what the generator wrote."""
    r = ds.report
    assert r.records_read == expected.records_read
    assert r.records == expected.kept == len(ds.frame)
    assert r.skipped == dict(expected.skipped)
    for reason, lines in expected.lines.items():
        names = {p.name for p in expected.paths}
        places = r.skipped_lines[reason]
        assert len(places) == min(5, len(lines))
        assert all(p.split(":")[0] in names for p in places)
        if len(expected.paths) == 1:
            assert [int(p.rsplit(":", 1)[1]) for p in places] == lines[:5]
    assert set(r.subjects) == expected.subjects == set(ds.subjects)
    assert r.activities == {a: c for a, c in expected.activities.items() if c}
    counts = ds.frame["activity"].astype(str).value_counts().to_dict()
    assert counts == dict(expected.activities)


def assert_tidy(frame: pd.DataFrame) -> None:
    """The contract of the tidy frame: dtypes, subject order, time order, no repeats."""
    assert frame["subject"].dtype == np.int64
    assert isinstance(frame["activity"].dtype, pd.CategoricalDtype)
    assert all(str(c) == str(c).lower() for c in frame["activity"].cat.categories)
    assert frame["timestamp"].dtype == np.int64
    for c in ("x", "y", "z"):
        assert frame[c].dtype == np.float32
    s = frame["subject"].to_numpy()
    assert np.all(np.diff(s) >= 0)
    for _, g in frame.groupby(["subject", "activity"], observed=True, sort=False):
        assert np.all(np.diff(g["timestamp"].to_numpy()) > 0)
    assert np.isfinite(frame[[c for c in frame.columns if c in "x y z gx gy gz".split()]]
                       .to_numpy()).all()


# --- WISDM v1.1 -----------------------------------------------------------------------------

def test_v11_quirks_counted_exactly(tmp_path):
    expected = W.write_v11_raw(tmp_path / "WISDM_ar_v1.1_raw.txt")
    ds = load(tmp_path / "WISDM_ar_v1.1_raw.txt")
    assert ds.report.format == "wisdm-v1.1"
    assert_matches(ds, expected)
    assert_tidy(ds.frame)
    assert ds.report.channels == ["x", "y", "z"]
    assert ds.report.sampling_hz == pytest.approx(20.0, rel=1e-3)
    assert ds.report.gaps == 0
    # Every quirk kind was actually exercised by the generated file.
    for reason in (W.PLACEHOLDER, W.DUPLICATE, W.REPEATED, W.MISSING):
        assert expected.skipped[reason] > 0


def test_v11_spaces_and_shared_lines_parse_to_same_values(tmp_path):
    quirky = W.write_v11_raw(tmp_path / "a.txt", subjects=(7,), quirks=True, seed=3)
    plain = W.write_v11_raw(tmp_path / "b.txt", subjects=(7,), quirks=False, seed=3)
    a, b = load(quirky.path).frame, load(plain.path).frame
    # The quirky file holds the plain one's records (and some bad ones): same kept rows.
    assert len(a) == len(b) == plain.kept
    pd.testing.assert_frame_equal(a, b)


def test_v11_unsorted_rows_are_sorted(tmp_path):
    path = tmp_path / "raw.txt"
    rows = [(2, "Jogging", 300), (1, "Walking", 200), (1, "Walking", 100), (2, "Jogging", 100)]
    path.write_text("".join(f"{s},{a},{t * 50_000_000},1.0,2.0,3.0;\n" for s, a, t in rows))
    frame = load(path).frame
    assert frame["subject"].tolist() == [1, 1, 2, 2]
    assert frame["timestamp"].tolist() == [5e9, 1e10, 5e9, 1.5e10]
    assert_tidy(frame)


def test_timestamp_gaps_counted(tmp_path):
    path = tmp_path / "raw.txt"
    ts = [0, 1, 2, 3, 10, 11, 12, 40, 41]  # two gaps longer than 4 periods
    path.write_text("".join(f"5,Walking,{(t + 1) * 50_000_000},1.0,2.0,3.0;\n" for t in ts))
    report = load(path).report
    assert report.gaps == 2
    assert report.sampling_hz == pytest.approx(20.0)


def test_single_20mb_line_of_records_parses_quickly(tmp_path):
    path = tmp_path / "oneline.txt"
    n = W.write_long_line_v11(path)
    assert path.stat().st_size > 15_000_000
    ds = load(path)   # how quickly: bench/bench_responsiveness.py (load_20mb_one_line_s)
    assert ds.report.records == n


# --- WISDM 2019 -----------------------------------------------------------------------------

def test_2019_single_accel_file(tmp_path):
    s = W.write_2019_subject(tmp_path, 1600, gyro=False, activities="ABD", placeholders=2)
    ds = load(s.accel.path)
    assert ds.report.format == "wisdm-2019"
    assert_matches(ds, s.accel)
    assert set(ds.activities) == {"walking", "jogging", "sitting"}
    assert ds.channels == ["x", "y", "z"]
    # Java exponents parsed: the constant 4.5776367E-4 appears in z
    assert np.any(np.isclose(ds.frame["z"].to_numpy(), 4.5776367e-4, rtol=1e-6))


def test_2019_accel_and_gyro_aligned_on_accel_grid(tmp_path):
    subjects = [W.write_2019_subject(tmp_path / "raw", sid) for sid in (1600, 1601)]
    ds = load(tmp_path / "raw")
    frame = ds.frame
    assert ds.channels == ["x", "y", "z", "gx", "gy", "gz"]
    assert ds.report.channels == ds.channels
    assert len(frame) == sum(s.aligned for s in subjects)
    lost = sum(s.accel.kept - s.aligned for s in subjects)
    assert lost > 0 and ds.report.skipped == {W.NO_GYRO: lost}
    assert ds.report.records_read == sum(s.accel.records_read + s.gyro.records_read
                                         for s in subjects)
    for c in ("gx", "gy", "gz"):
        assert frame[c].dtype == np.float32
    # 20 Hz grid: every interval within a recording is one 50 ms period.
    for (sid, act), g in frame.groupby(["subject", "activity"], observed=True):
        dt = np.diff(g["timestamp"].to_numpy())
        assert np.all(dt == W.PERIOD_NS)
        # Gyroscope values are the (linear) truth at the accelerometer's timestamps.
        start = next(s for s in subjects if s.accel.subjects == {sid}).accel_start_ns[str(act)]
        tau = (g["timestamp"].to_numpy() - start) / 1e9
        for c, truth in zip(("gx", "gy", "gz"), W.gyro_truth(tau), strict=True):
            np.testing.assert_allclose(g[c].to_numpy(), truth, rtol=1e-5, atol=1e-6)
    assert ds.report.sampling_hz == pytest.approx(20.0)
    assert_tidy(frame)


def test_2019_subject_without_gyro_left_out_with_warning(tmp_path):
    full = W.write_2019_subject(tmp_path, 1600)
    accel_only = W.write_2019_subject(tmp_path, 1607, gyro=False)
    ds = load(tmp_path)
    assert ds.subjects == [1600]
    assert ds.channels == ["x", "y", "z", "gx", "gy", "gz"]
    assert len(ds.frame) == full.aligned
    assert any("1607" in w and "gyroscope" in w for w in ds.report.warnings)
    # Loaded alone, its accelerometer data is all there.
    alone = load(accel_only.accel.path)
    assert alone.subjects == [1607] and len(alone.frame) == accel_only.accel.kept


def test_2019_gyro_file_alone_is_an_error(tmp_path):
    s = W.write_2019_subject(tmp_path, 1600, accel=False)
    with pytest.raises(DataError) as info:
        load(s.gyro.path)
    msg = str(info.value)
    assert s.gyro.path.name in msg and "\n" not in msg


def test_2019_watch_files_left_out_when_phone_present(tmp_path):
    phone = W.write_2019_subject(tmp_path / "phone", 1600, gyro=False)
    W.write_2019_subject(tmp_path / "watch", 1600, gyro=False, device="watch")
    ds = load(tmp_path)
    assert len(ds.frame) == phone.accel.kept
    assert any("watch" in w for w in ds.report.warnings)


# --- headed CSV -----------------------------------------------------------------------------

def test_headed_csv_any_order_case_and_aliases(tmp_path):
    header = (("x", "ACC_X"), ("activity", "Label"), ("z", "z-axis"), ("extra", "comment"),
              ("timestamp", "Timestamp"), ("subject", "Subject"), ("y", "Y"))
    expected = W.write_headed_csv(tmp_path / "odd.csv", header=header, newline="\r\n",
                                  activities=("A", "E"))
    ds = load(expected.path)
    assert ds.report.format == "csv"
    assert_matches(ds, expected)
    assert set(ds.activities) == {"walking", "standing"}
    assert_tidy(ds.frame)


def test_headed_csv_bad_rows_counted(tmp_path):
    expected = W.write_headed_csv(tmp_path / "bad.csv", nonfinite=3, text_values=2, missing=1,
                                  extra_fields=2)
    ds = load(expected.path)
    assert_matches(ds, expected)
    for reason in (W.MISSING, W.NON_FINITE, W.NOT_A_NUMBER, W.TOO_MANY):
        assert ds.report.skipped[reason] == expected.skipped[reason] > 0


def test_european_semicolon_decimal_comma(tmp_path):
    header = tuple((r, r if r != "subject" else "user") for r in
                   ("subject", "activity", "timestamp", "x", "y", "z"))
    expected = W.write_headed_csv(tmp_path / "euro.csv", header=header, sep=";", decimal=",")
    assert b"," in expected.path.read_bytes()  # decimal commas really written
    ds = load(expected.path)
    assert_matches(ds, expected)
    plain = W.write_headed_csv(tmp_path / "plain.csv", header=header)
    np.testing.assert_array_equal(ds.frame[["x", "y", "z"]].to_numpy(),
                                  load(plain.path).frame[["x", "y", "z"]].to_numpy())


def test_european_example_from_issue(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"user;activity;timestamp;x;y;z\r\n1;Walking;123;-0,5;9,8;0,1\r\n"
                     b"1;Walking;50000123;-0,25;9,75;0,2\r\n")
    frame = load(path).frame
    np.testing.assert_allclose(frame[["x", "y", "z"]].to_numpy()[0], [-0.5, 9.8, 0.1], rtol=1e-6)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "latin-1", "utf-8-sig"])
def test_text_encodings(tmp_path, encoding):
    header = W.DEFAULT_HEADER + (("extra", "notiz"),)
    expected = W.write_headed_csv(tmp_path / "enc.csv", header=header, encoding=encoding,
                                  activities=("gehen", "stehen (müde)"))
    ds = load(expected.path)
    assert_matches(ds, expected)
    assert "stehen (müde)" in ds.activities


def test_csv_timestamps_in_milliseconds(tmp_path):
    expected = W.write_headed_csv(tmp_path / "ms.csv", time_unit_ns=1_000_000)
    ds = load(expected.path)
    assert_matches(ds, expected)
    assert ds.report.sampling_hz == pytest.approx(20.0)
    assert any("milliseconds" in w for w in ds.report.warnings)


def test_nan_and_inf_skipped_unless_nothing_left(tmp_path):
    expected = W.write_headed_csv(tmp_path / "nan.csv", nonfinite=4)
    ds = load(expected.path)
    assert ds.report.skipped[W.MISSING] == expected.skipped[W.MISSING] > 0
    assert ds.report.skipped[W.NON_FINITE] == expected.skipped[W.NON_FINITE] > 0
    path = W.write_bad_file(tmp_path / "allnan.csv", "all_nan")
    with pytest.raises(DataError, match="allnan.csv.*no usable records"):
        load(path)


# --- bad input ------------------------------------------------------------------------------

LINE_KINDS = {"wrong_columns": 1, "gyro_only_header": 1}


@pytest.mark.parametrize("kind", W.BAD_KINDS)
def test_bad_input_one_line_error_naming_file(tmp_path, kind):
    path = W.write_bad_file(tmp_path / f"bad_{kind}.csv", kind)
    with pytest.raises(DataError) as info:   # how quickly: bench/bench_responsiveness.py
        load(path)
    msg = str(info.value)
    assert path.name in msg
    assert "\n" not in msg and len(msg) < 400
    if kind in LINE_KINDS:
        assert f"{path.name}:{LINE_KINDS[kind]}:" in msg


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nope.txt")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("about the data\n")
    with pytest.raises(DataError, match="no data files"):
        load(tmp_path / "empty")


def test_folder_skips_readme_and_reports_bad_files(tmp_path):
    expected = W.write_v11_raw(tmp_path / "data" / "raw.txt", quirks=False) if (
        tmp_path / "data").mkdir() is None else None
    (tmp_path / "data" / "README.txt").write_text("not data\n")
    W.write_bad_file(tmp_path / "data" / "picture.csv", "png")
    ds = load(tmp_path / "data")
    assert len(ds.frame) == expected.kept
    assert len(ds.report.files) == 1
    assert any("picture.csv" in w for w in ds.report.warnings)


def test_mixed_formats(tmp_path):
    a = W.write_v11_raw(tmp_path / "v11.txt", subjects=(33,), quirks=False)
    b = W.write_headed_csv(tmp_path / "c.csv", subjects=(5,))
    ds = load([a.path, b.path])
    assert ds.report.format == "mixed"
    assert_matches(ds, a.merge(b))


# --- progress, cancelling, windows ----------------------------------------------------------

def test_load_iter_progress_and_cancel(tmp_path):
    paths = [W.write_v11_raw(tmp_path / f"f{i}.txt", subjects=(i + 1,), quirks=False).path
             for i in range(3)]
    total = sum(p.stat().st_size for p in paths)
    gen = load_iter(paths)
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as stop:
        ds = stop.value
    assert all(isinstance(s, LoadProgress) for s in steps)
    done = [s.done_bytes for s in steps]
    assert done == sorted(done) and done[-1] == total and steps[0].total_bytes == total
    assert ds.subjects == [1, 2, 3]

    seen = []
    load(paths, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (total, total)

    gen = load_iter(paths)
    next(gen)
    next(gen)
    gen.close()  # cancelling mid-way raises nothing and leaves nothing running
    with pytest.raises(StopIteration):
        next(gen)


def test_loaded_frame_windows(tmp_path):
    s = W.write_2019_subject(tmp_path, 1600, samples=300, activities="AB")
    ds = load(tmp_path)
    windows = make_windows(ds.frame, WindowConfig(size=64, step=32))
    assert len(windows) > 0
    assert windows.X.shape[1:] == (64, 6)
    assert windows.labels == ["walking", "jogging"]
    assert s.aligned == len(ds.frame)


def test_csv_text_subject_ids_and_iso_dates(tmp_path):
    path = tmp_path / "export.csv"
    rows = [f"u{s},Walking,2024-05-01T10:00:{k // 20:02d}.{(k % 20) * 5:02d}0Z,1.0,9.8,0.{k}"
            for s in (7, 9) for k in range(40)]
    path.write_text("participant,activity,time,ax,ay,az\n" + "\n".join(rows) + "\n")
    ds = load(path)
    assert ds.subjects == [7, 9]
    assert len(ds.frame) == len(rows)
    assert ds.report.sampling_hz == pytest.approx(20.0)
    assert any("subject ids" in w for w in ds.report.warnings)
    assert_tidy(ds.frame)


def test_2019_letters_without_standard_file_name(tmp_path):
    s = W.write_2019_subject(tmp_path, 1650, gyro=False)
    renamed = s.accel.path.rename(tmp_path / "mine.txt")
    ds = load(renamed)
    assert ds.report.format == "wisdm-2019"
    assert len(ds.frame) == s.accel.kept
