"""Phone apps' recordings: each app's exact format (``phone-formats.md``'s sample lines and
rules, Android and iOS) gives Android's convention in m/s^2; a WISDM recording written in
each app's format gives the same windows and predictions; who/what is asked once and
remembered; unlabelled rows make no window."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from phone_writers import (
    G,
    sensor_logger_files,
    write_hyperimu,
    write_phyphox,
    write_physics_toolbox,
    write_sensor_logger,
    write_sensorlog,
)

from har_studio.data import DataError
from har_studio.data.activities import UNLABELLED
from har_studio.data.loaders import identity_needed, load
from har_studio.data.sidecar import sidecar_path, subject_number, write_sidecar
from har_studio.data.windows import WindowConfig, make_windows

WHO = {"subject": 3, "activity": "walking"}


def xyz_of(dataset) -> np.ndarray:
    return dataset.frame[["x", "y", "z"]].to_numpy(dtype=np.float64)


def note(dataset) -> str:
    return next(w for w in dataset.report.warnings if "Hz" in w)


# --- each app's exact format: the sample lines of phone-formats.md -------------------------

SL_HEADER = "time,seconds_elapsed,z,y,x\n"


def _write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_sensor_logger_android_total_acceleration(tmp_path):
    rec = _write(tmp_path / "2023-03-17_15-50-47", {
        "TotalAcceleration.csv": SL_HEADER
        + "1679068247375690000,0.17668994140625,9.66539192199707,-0.002394201699644327,0.12689268589019775\n"
        + "1679068247395458300,0.196458251953125,9.66539192199707,-0.002394201699644327,0.12689268589019775\n",
        "Gravity.csv": SL_HEADER
        + "1679068247354694100,0.155694091796875,9.805804252624512,-0.0024296718183904886,0.12877260148525238\n",
        "Accelerometer.csv": SL_HEADER
        + "1679068247354694100,0.155694091796875,-0.1404123306274414,0.00003547011874616146,-0.0018799155950546265\n",
        "Metadata.csv": "version,device name,recording time,platform,appVersion,device id,sensors,sampleRateMs\n"
                        "3,SM-A520F,2023-03-17_15-50-47,android,1.12.0,8ea4,Accelerometer|Gravity,20|20\n",
    })
    data = load(rec, **WHO)
    # columns are z, y, x in the file: x is the last one
    np.testing.assert_allclose(xyz_of(data)[0], [0.12689268589019775, -0.002394201699644327,
                                                 9.66539192199707], rtol=1e-6)
    assert data.report.format == "sensor-logger"
    assert data.frame["timestamp"].tolist() == [1679068247375690000, 1679068247395458300]
    assert "Sensor Logger, Android: total acceleration from TotalAcceleration.csv" in note(data)


IOS_ACCEL = ("1662729295900810000,0.03181005859375,-0.004873158994317055,0.018743863436579702,"
             "-0.11452011314928531\n")
IOS_GRAVITY = "1662729295900810000,0.03181005859375,-8.856516098055243,-3.16921368073374,2.7728318516805768\n"
IOS_META = ("version,device name,recording time,platform,appVersion\n"
            "3,iPhone 12 mini,2022-09-09_13-14-55,ios,1.10.4\n")


def test_sensor_logger_iphone_accelerometer_plus_gravity_flipped(tmp_path):
    second_a = "1662729295910766000,0.04176611328125,0.02182663188278675,0.04898030400723219,-0.17041355754584073\n"
    second_g = "1662729295910766000,0.04176611328125,-8.85,-3.17,2.77\n"
    rec = _write(tmp_path / "rec", {"Accelerometer.csv": SL_HEADER + IOS_ACCEL + second_a,
                                    "Gravity.csv": SL_HEADER + IOS_GRAVITY + second_g,
                                    "Metadata.csv": IOS_META})
    data = load(rec, **WHO)
    user = np.array([-0.11452011314928531, 0.018743863436579702, -0.004873158994317055])
    grav = np.array([2.7728318516805768, -3.16921368073374, -8.856516098055243])
    np.testing.assert_allclose(xyz_of(data)[0], -(user + grav), rtol=1e-6)
    assert xyz_of(data)[0][2] > 8.8          # flat-ish, screen up: +z in Android's convention
    assert "Sensor Logger, iPhone: signs flipped, gravity added from Gravity.csv, 100 Hz" in note(data)


def test_sensor_logger_iphone_uncalibrated_in_g(tmp_path):
    line = "1662729295883388200,0.01438818359375,-0.90814208984375,-0.3261260986328125,0.2810516357421875\n"
    line2 = "1662729295893388200,0.02438818359375,-0.90814208984375,-0.3261260986328125,0.2810516357421875\n"
    rec = _write(tmp_path / "rec", {"AccelerometerUncalibrated.csv": SL_HEADER + line + line2,
                                    "Accelerometer.csv": "", "Metadata.csv": IOS_META})
    data = load(rec, **WHO)
    np.testing.assert_allclose(xyz_of(data)[0], np.array(
        [-0.2810516357421875, 0.3261260986328125, 0.90814208984375]) * G, rtol=1e-6)
    assert "signs flipped" in note(data) and "g converted to m/s²" in note(data)


def test_sensor_logger_standardised_iphone_keeps_signs(tmp_path):
    t = 1_662_729_295_900_810_000 + np.arange(50) * 10_000_000
    xyz = np.tile([0.5, 1.0, 9.7], (50, 1))
    rec = write_sensor_logger(tmp_path / "rec", t, xyz, "ios", standardised=True)
    np.testing.assert_allclose(xyz_of(load(rec, **WHO)), xyz, atol=1e-5)


@pytest.mark.parametrize("depth", ["", "2022-09-09_13-14-55/", "Downloads/exports/2022-09-09/"])
def test_sensor_logger_zip_at_any_depth_and_single_csvs(tmp_path, depth):
    t = 1_662_729_295_900_810_000 + np.arange(40) * 10_000_000
    xyz = np.column_stack([np.sin(np.arange(40) / 3), np.full(40, 2.0), np.full(40, 9.5)])
    zipped = write_sensor_logger(tmp_path / "export.zip", t, xyz, "ios", as_zip=True, depth=depth)
    np.testing.assert_allclose(xyz_of(load(zipped, **WHO)), xyz, atol=1e-5)
    folder = write_sensor_logger(tmp_path / "unzipped", t, xyz, "ios")
    # one of its CSVs picked stands for its export (Gravity.csv is read with it)
    picked = load([folder / "Accelerometer.csv", folder / "Gravity.csv"], **WHO)
    assert picked.report.files == [str(folder)]
    np.testing.assert_allclose(xyz_of(picked), xyz, atol=1e-5)


PHYPHOX = ('"Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)",'
           '"Absolute acceleration (m/s^2)"\n'
           "3.674579167E-2,2.908451843E-1,3.552562408E0,9.095835114E0,9.769314561E0\n"
           "4.671779167E-2,2.959346008E-1,3.465144196E0,8.940757599E0,9.593328308E0\n"
           "5.669079167E-2,2.875520325E-1,3.392545166E0,8.788224792E0,9.424698609E0\n")
PHYPHOX_ROWS = [[2.908451843E-1, 3.552562408E0, 9.095835114E0],
                [2.959346008E-1, 3.465144196E0, 8.940757599E0],
                [2.875520325E-1, 3.392545166E0, 8.788224792E0]]


@pytest.mark.parametrize("sep,decimal", [(",", "."), (";", "."), ("\t", "."), ("\t", ","),
                                         (";", ",")])
def test_phyphox_raw_data_every_csv_choice(tmp_path, sep, decimal):
    text = PHYPHOX.replace(",", "\0").replace("\0", sep)
    if decimal == ",":
        text = "\n".join([text.split("\n")[0]] + [ln.replace(".", ",")
                                                   for ln in text.split("\n")[1:]])
    path = tmp_path / "Raw Data.csv"
    path.write_text(text, encoding="utf-8")
    data = load(path, **WHO)
    np.testing.assert_allclose(xyz_of(data), PHYPHOX_ROWS, rtol=1e-6)
    assert np.diff(data.frame["timestamp"]).tolist() == [9972000, 9973000]
    assert "phyphox: Android's convention already" in note(data)


def test_phyphox_zip_ios_cells_and_semicolon_sample(tmp_path):
    t = np.arange(30) * 10_000_000
    xyz = np.column_stack([np.linspace(-1, 1, 30), np.full(30, 0.3), np.full(30, 9.81)])
    z = write_phyphox(tmp_path / "Acceleration with g 2024-03-01 12-00-00.zip", t, xyz,
                      platform="ios", as_zip=True)
    np.testing.assert_allclose(xyz_of(load(z, **WHO)), xyz, atol=1e-6)
    semi = tmp_path / "semi.csv"     # the four-column semicolon sample of phone-formats.md
    semi.write_text('"Time (s)";"Acceleration x (m/s^2)";"Acceleration y (m/s^2)";'
                    '"Acceleration z (m/s^2)"\n0.000000000E0;3.555450439E-1;3.094482422E-1;'
                    '1.006282043E1\n1.000000000E-2;3.555450439E-1;3.094482422E-1;1.006282043E1\n')
    np.testing.assert_allclose(xyz_of(load(semi, **WHO))[0], [0.3555450439, 0.3094482422,
                                                              10.06282043], rtol=1e-6)


def test_hyperimu_real_layouts(tmp_path):
    first = ("1510411143791,0.004627242,0.43825644,0.19575885,-1.1764508,3.1069257,9.461885,"
             "-785.457,-655.622,-1005.397,129.71889,-0.19136167,0.019025113,-1.4070424,"
             "3.0401874,-0.26440966")
    second = first.replace("1510411143791", "1510411143845").replace("-1.1764508", "-1.6020203")
    header = ("timestamp,MPL_Gyroscope.x,MPL_Gyroscope.y,MPL_Gyroscope.z,MPL_Accelerometer.x,"
              "MPL_Accelerometer.y,MPL_Accelerometer.z,MPL_Magnetic_Field.x,MPL_Magnetic_Field.y,"
              "MPL_Magnetic_Field.z,MPL_Orientation.x,MPL_Orientation.y,MPL_Orientation.z,"
              "MPL_Linear_Acceleration.x,MPL_Linear_Acceleration.y,MPL_Linear_Acceleration.z")
    path = tmp_path / "HIMU-2017-07-25_11-26-18.csv"
    path.write_text("@ HyperIMU - ianovir - 2017\n@ Date: Sat Nov 11 15:39:03 GMT+01:00 2017, "
                    f"Sampling Time: 50ms\n\n{header}\n{first}\n{second}\n")
    data = load(path, **WHO)
    np.testing.assert_allclose(xyz_of(data), [[-1.1764508, 3.1069257, 9.461885],
                                              [-1.6020203, 3.1069257, 9.461885]], rtol=1e-6)
    assert data.frame["timestamp"].tolist() == [1510411143791_000000, 1510411143845_000000]
    # 2019: no timestamp column (time from "Sampling Rate:100ms"), a chip name, a first row
    # of zeros, GPS and NMEA text columns
    old = tmp_path / "HIMU-2019-12-10_13-37-45.csv"
    old.write_text("@ HyperIMU -ianovir - 2018\n@ Date:Tue Dec 10 13:37:45 GMT+05:30 2019, "
                   "Sampling Rate:100ms\n\nST_LIS3DHTR.x,ST_LIS3DHTR.y,ST_LIS3DHTR.z,GRAVITY.x,"
                   "GRAVITY.y,GRAVITY.z,GPS.lat,GPS.long,GPS.alt,NMEA.a,NMEA.b,NMEA.c\n"
                   "0.0,0.0,0.0,0.0,0.0,0.0,28.71849,77.13376666666666,68.9,$GNGGA.0807,x,y\n"
                   "-0.18,-0.055,9.785,-0.095733,-0.123626,9.805405,28.71846,77.13374,77.4,"
                   "$BDGSA.1,x,y\n-0.2,-0.05,9.79,-0.09,-0.12,9.8,28.7,77.1,77.4,$B,x,y\n")
    data = load(old, **WHO)
    np.testing.assert_allclose(xyz_of(data)[0], [-0.18, -0.055, 9.785], rtol=1e-6)
    assert data.report.skipped == {"placeholder zeros": 1}
    assert np.diff(data.frame["timestamp"]).tolist() == [100_000_000]


def test_physics_toolbox_android_trailing_comma_and_iphone(tmp_path):
    path = tmp_path / "2023-03-1717.06.59.csv"
    path.write_text("\ntime,gFx,gFy,gFz,ax,ay,az,wx,wy,wz,\n"
                    "0.031856,0.1368,0.5184,0.8106,0.0000,0.0000,0.0000,0.0000,0.0000,0.0000,\n"
                    "0.031975,0.1285,0.5203,0.8157,0.0000,0.0000,0.0000,0.0000,0.0000,0.0000,\n")
    data = load(path, **WHO)
    np.testing.assert_allclose(xyz_of(data), np.array([[0.1368, 0.5184, 0.8106],
                                                       [0.1285, 0.5203, 0.8157]]) * G, rtol=1e-6)
    assert "Physics Toolbox, Android: g converted to m/s²" in note(data)
    ios = tmp_path / "sensor.csv"
    ios.write_text("time,gFx,gFy,gFz,gFTotal\n2018-10-03 17:23:55.4640,0.035,-0.517,-0.821,0.971\n"
                   "2018-10-03 17:23:55.4740,0.035,-0.517,-0.821,0.971\n")
    data = load(ios, **WHO)
    np.testing.assert_allclose(xyz_of(data)[0], np.array([-0.035, 0.517, 0.821]) * G, rtol=1e-6)
    assert np.diff(data.frame["timestamp"]).tolist() == [10_000_000]


def test_physics_toolbox_decimal_comma_semicolons_unicode_minus(tmp_path):
    t = np.arange(20) * 10_000_000
    xyz = np.column_stack([np.full(20, -1.25), np.full(20, 3.5), np.full(20, 9.0)])
    path = write_physics_toolbox(tmp_path / "ptb.csv", t, xyz, locale="de")
    assert "\u2212" in path.read_text() and ";" in path.read_text()
    np.testing.assert_allclose(xyz_of(load(path, **WHO)), xyz, atol=1e-4)


def test_sensorlog_g_with_ios_signs(tmp_path):
    t = np.arange(25) * 10_000_000
    xyz = np.column_stack([np.full(25, 0.4), np.full(25, -2.0), np.full(25, 9.6)])
    data = load(write_sensorlog(tmp_path / "2023-11-06_09_24_37_my_iOS_device.csv", t, xyz), **WHO)
    np.testing.assert_allclose(xyz_of(data), xyz, atol=1e-6)
    assert "SensorLog, iPhone: signs flipped, g converted to m/s²" in note(data)
    flat = tmp_path / "flat.csv"       # Core Motion flat, screen up: z = -1 g
    flat.write_text("loggingTime(txt),accelerometerTimestamp_sinceReboot(s),"
                    "accelerometerAccelerationX(G),accelerometerAccelerationY(G),"
                    "accelerometerAccelerationZ(G)\n2017-06-23 15:42:42.144 +0200,100.00,0,0,-1\n"
                    "2017-06-23 15:42:42.154 +0200,100.01,0.01,0,-1\n")
    np.testing.assert_allclose(xyz_of(load(flat, **WHO))[1], [-0.01 * G, 0, G], rtol=1e-6)
    motion = write_sensorlog(tmp_path / "motion.csv", t, xyz, motion_only=True)
    np.testing.assert_allclose(xyz_of(load(motion, **WHO)), xyz, atol=1e-6)


# --- a WISDM recording in each app's format: the same windows and predictions --------------

@pytest.fixture(scope="module")
def recording_and_model():
    from tiny_models import trained_tiny_bundle

    from har_studio.data.demo import demo_dataset, demo_frame

    frame = demo_frame(subjects=1, seconds_per_activity=24.0, activities=("walking",), seed=3)
    bundle = trained_tiny_bundle(demo_dataset(subjects=2, seconds_per_activity=20.0,
                                              activities=("walking", "jogging")), epochs=1)
    return frame, bundle


WRITERS = {
    "sensor-logger-ios": lambda p, t, v: write_sensor_logger(p / "sl", t, v, "ios"),
    "sensor-logger-android-zip": lambda p, t, v: write_sensor_logger(p / "sl.zip", t, v,
                                                                     "android", as_zip=True),
    "sensor-logger-ios-uncalibrated": lambda p, t, v: write_sensor_logger(
        p / "slu", t, v, "ios", uncalibrated=True),
    "phyphox-android": lambda p, t, v: write_phyphox(p / "Raw Data.csv", t, v),
    "phyphox-ios-tab-comma": lambda p, t, v: write_phyphox(p / "Raw Data.csv", t, v, sep="\t",
                                                           decimal=",", platform="ios"),
    "hyperimu": lambda p, t, v: write_hyperimu(p / "HIMU-2019-12-10_13-37-45.csv", t, v),
    "physics-toolbox": lambda p, t, v: write_physics_toolbox(p / "ptb.csv", t, v),
    "physics-toolbox-ios": lambda p, t, v: write_physics_toolbox(p / "sensor.csv", t, v,
                                                                 platform="ios"),
    "sensorlog": lambda p, t, v: write_sensorlog(p / "log.csv", t, v),
}


@pytest.mark.parametrize("app", sorted(WRITERS))
def test_wisdm_recording_in_each_app_format_gives_same_windows(tmp_path, app,
                                                               recording_and_model):
    from har_studio.training.metrics import predict_windows

    frame, bundle = recording_and_model
    t = frame["timestamp"].to_numpy()
    xyz = frame[["x", "y", "z"]].to_numpy(dtype=np.float64)
    wisdm = tmp_path / "wisdm.txt"
    wisdm.write_text("".join(f"7,Walking,{a},{x!r},{y!r},{z!r};\n"
                             for a, (x, y, z) in zip(t, xyz.tolist(), strict=True)))
    config = WindowConfig(size=32, step=16)
    want = make_windows(load(wisdm).frame, config, labels=bundle.labels)
    got = make_windows(load(WRITERS[app](tmp_path, t, xyz), subject=7, activity="walking").frame,
                       config, labels=bundle.labels)
    assert len(want) == len(got) > 10
    np.testing.assert_allclose(got.X, want.X, atol=2e-5)
    assert got.y.tolist() == want.y.tolist() and got.subjects.tolist() == want.subjects.tolist()
    np.testing.assert_allclose(bundle.predict_proba(got.X), bundle.predict_proba(want.X),
                               atol=1e-3)
    assert predict_windows(bundle, got).tolist() == predict_windows(bundle, want).tolist()


# --- who and what: asked once, remembered beside the file ----------------------------------

def test_identity_needed_sidecar_and_next_load(tmp_path):
    t = 1_700_000_000_000_000_000 + np.arange(40) * 10_000_000
    rec = write_sensor_logger(tmp_path / "rec", t, np.tile([0.0, 0.0, 9.8], (40, 1)), "ios")
    need = identity_needed(rec / "Gravity.csv")
    assert need == (True, True, "Sensor Logger")
    with pytest.raises(DataError, match=r"rec: a Sensor Logger recording .*--subject"):
        load(rec)
    assert not sidecar_path(rec).exists()
    load(rec, subject="Alice Smith", activity="label later")
    side = json.loads(sidecar_path(rec).read_text())
    assert side["subject"] == "Alice Smith" and side["activity"] == UNLABELLED
    assert identity_needed(rec) == (False, False, "Sensor Logger")
    again = load(rec)                                  # no questions the second time
    assert again.report.subjects == [subject_number("Alice Smith")] == [subject_number("alice smith")]
    assert again.report.unlabelled == 40 and again.report.activities == {UNLABELLED: 40}
    write_sidecar(rec, edits=[{"from": 0, "to": 1}])   # another key (the Data tab's) is kept
    load(rec, subject=4, activity="walking")
    side = json.loads(sidecar_path(rec).read_text())
    assert side["edits"] == [{"from": 0, "to": 1}] and side["subject"] == "4"
    wisdm = tmp_path / "w.txt"
    wisdm.write_text("1,Walking,100,0,9.8,0;\n1,Walking,200,0,9.8,0;\n")
    assert identity_needed(wisdm) == (False, False, "")
    assert load(wisdm, subject=9, activity="jogging").report.subjects == [1]   # keeps its own
    assert not sidecar_path(wisdm).exists()


def test_unlabelled_rows_make_no_window_and_are_counted(tmp_path):
    t = np.arange(400) * 50_000_000
    xyz = np.tile([0.1, 9.7, 0.5], (400, 1))
    phone = load(write_phyphox(tmp_path / "Raw Data.csv", t, xyz), subject=2,
                 activity="unlabelled")
    assert phone.report.unlabelled == 400
    assert any("400 records are not labelled" in w for w in phone.report.warnings)
    wisdm = tmp_path / "w.txt"
    wisdm.write_text("".join(f"1,Walking,{(k + 1) * 50_000_000},0.1,9.7,0.5;\n" for k in range(200)))
    both = load([wisdm, tmp_path / "Raw Data.csv"])
    windows = make_windows(both.frame, WindowConfig(size=32, step=16))
    assert windows.labels == ["walking"] and set(windows.subjects.tolist()) == {1}


def test_cli_subject_and_activity(tmp_path, capsys):
    from har_studio.__main__ import main

    t = np.arange(40) * 10_000_000
    path = write_phyphox(tmp_path / "Raw Data.csv", t, np.tile([0.0, 0.0, 9.81], (40, 1)))
    assert main(["inspect", str(path)]) == 1
    assert "--subject" in capsys.readouterr().err
    assert main(["inspect", str(path), "--subject", "12", "--activity", "Sitting", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["subjects"] == [12] and report["activities"] == {"sitting": 40}
    assert report["format"] == "phyphox"
    assert main(["inspect", str(path), "--json"]) == 0          # remembered
    assert json.loads(capsys.readouterr().out)["subjects"] == [12]


# --- bad input: one line naming the file, nothing half-loaded, memory bounded ---------------

def _one_line(exc_info, path) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_zip_that_is_no_export(tmp_path):
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("data.csv", "a,b\n1,2\n")
    with pytest.raises(DataError) as err:
        load(path, **WHO)
    assert "not a Sensor Logger or phyphox export" in _one_line(err, path)
    assert identity_needed(path) == (False, False, "")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(DataError) as err:
        load(broken, **WHO)
    assert "zip" in _one_line(err, broken)


def test_sensor_logger_zero_byte_csvs_and_no_gravity(tmp_path):
    empty = _write(tmp_path / "off", {"Accelerometer.csv": "", "Gravity.csv": "",
                                      "AccelerometerUncalibrated.csv": "", "Metadata.csv": IOS_META})
    with pytest.raises(DataError) as err:
        load(empty, **WHO)
    assert "no accelerometer data" in _one_line(err, empty)
    alone = _write(tmp_path / "alone", {"Accelerometer.csv": SL_HEADER + IOS_ACCEL})
    with pytest.raises(DataError) as err:
        load(alone / "Accelerometer.csv", **WHO)
    message = _one_line(err, alone)
    assert "gravity removed" in message and "Gravity" in message and "Total Acceleration" in message
    assert not sidecar_path(alone).exists()


@pytest.mark.parametrize("kind,expected", [
    ("without_g", "without g"), ("gyroscope", "gyroscope"), ("graph", "one graph's export")])
def test_phyphox_other_experiments_refused(tmp_path, kind, expected):
    path = tmp_path / "Raw Data.csv"
    if kind == "without_g":
        write_phyphox(path, np.arange(5) * 10**7, np.zeros((5, 3)) + 0.1, without_g=True)
    elif kind == "gyroscope":
        path.write_text('"Time (s)","Gyroscope x (rad/s)","Gyroscope y (rad/s)",'
                        '"Gyroscope z (rad/s)","Absolute (rad/s)"\n1E-2,1E-3,2E-3,3E-3,4E-3\n')
    else:
        path.write_text('"t (s)","a (m/s²)"\n1E-2,9.8E0\n2E-2,9.8E0\n')
    with pytest.raises(DataError) as err:
        load(path, **WHO)
    message = _one_line(err, path)
    assert expected in message and "Acceleration with g" in message


def test_unknown_layout_bom_and_time_faults(tmp_path):
    unknown = tmp_path / "mystery.csv"
    unknown.write_text("alpha,beta,gamma\n1,2,3\n")
    with pytest.raises(DataError) as err:
        load(unknown, **WHO)
    _one_line(err, unknown)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + PHYPHOX.encode())
    np.testing.assert_allclose(xyz_of(load(bom, **WHO)), PHYPHOX_ROWS, rtol=1e-6)
    back = tmp_path / "Raw Data.csv"
    rows = PHYPHOX.splitlines()
    back.write_text("\n".join([rows[0], rows[1], rows[3], rows[2]]) + "\n")
    with pytest.raises(DataError) as err:
        load(back, **WHO)
    assert "time goes backward" in _one_line(err, back) and f"{back}:4:" in str(err.value)
    dup = tmp_path / "dup" / "Raw Data.csv"
    dup.parent.mkdir()
    dup.write_text("\n".join([rows[0], rows[1], rows[1], rows[2]]) + "\n")
    data = load(dup, **WHO)
    assert len(data.frame) == 2 and data.report.skipped == {"duplicate record": 1}
    assert data.report.skipped_lines["duplicate record"] == ["Raw Data.csv:3"]


def test_bad_phone_file_beside_a_good_one_is_reported_not_half_loaded(tmp_path):
    good = tmp_path / "w.txt"
    good.write_text("".join(f"1,Walking,{(k + 1) * 50_000_000},0.1,9.7,0.5;\n" for k in range(50)))
    bad = _write(tmp_path / "off", {"Accelerometer.csv": "", "Metadata.csv": IOS_META})
    data = load([good, bad], **WHO)
    assert data.report.files == [str(good)] and len(data.frame) == 50
    assert any(str(bad) in w and "no accelerometer data" in w for w in data.report.warnings)


def test_zip_bomb_refused_with_bounded_memory(tmp_path, monkeypatch):
    import tracemalloc

    from har_studio.data.formats import exports

    monkeypatch.setattr(exports, "MAX_MEMBER_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.zip"
    chunk = b"1," * (1 << 20)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("rec/Accelerometer.csv", "w", force_zip64=True) as fh:
            fh.write(b"time,seconds_elapsed,z,y,x\n")
            for _ in range(32):
                fh.write(chunk)       # 64 MiB that deflate to a few hundred KB
        zf.writestr("rec/Gravity.csv", "time,seconds_elapsed,z,y,x\n1,0,1,1,1\n")
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as err:
            load(bomb, **WHO)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "inflates to more than" in _one_line(err, bomb)
    assert peak < 8 << 20, peak    # the cap, not the 64 MiB
    # a member whose header says it is bigger than the cap: refused before inflating
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Raw Data.csv", b"0" * (2 << 20))
    with pytest.raises(DataError, match="inflates to more than"):
        load(big, **WHO)


def test_too_many_sensor_logger_recordings_in_one_zip(tmp_path):
    path = tmp_path / "two.zip"
    files = sensor_logger_files(np.arange(5) * 10**7, np.zeros((5, 3)) + 9.8 / 3 ** 0.5, "ios")
    with zipfile.ZipFile(path, "w") as zf:
        for folder in ("a/", "b/"):
            for name, text in files.items():
                zf.writestr(folder + name, text)
    with pytest.raises(DataError) as err:
        load(path, **WHO)
    assert "holds 2 Sensor Logger recordings" in _one_line(err, path)


# --- fuzzing: whatever the bytes, a phone file loads or is one line naming it --------------

def _samples() -> dict[str, bytes]:
    import tempfile
    from pathlib import Path

    t = 1_662_729_295_900_810_000 + np.arange(12) * 10_000_000
    xyz = np.column_stack([np.linspace(-1, 1, 12), np.full(12, 0.5), np.full(12, 9.7)])
    out = {"Accelerometer.csv": sensor_logger_files(t, xyz, "ios")["Accelerometer.csv"].encode()}
    with tempfile.TemporaryDirectory() as folder:
        f = Path(folder)
        out["Raw Data.csv"] = write_phyphox(f / "a.csv", t, xyz, sep=";", decimal=",").read_bytes()
        out["HIMU.csv"] = write_hyperimu(f / "b.csv", t, xyz).read_bytes()
        out["ptb.csv"] = write_physics_toolbox(f / "c.csv", t, xyz, locale="de").read_bytes()
        out["log.csv"] = write_sensorlog(f / "d.csv", t, xyz).read_bytes()
    return out


SAMPLES = _samples()


def _edit(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for pos, insert, cut in edits:
        at = pos % (len(buf) + 1)
        buf[at:at + cut] = insert
    return bytes(buf)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EDITS = st.lists(st.tuples(st.integers(0, 4000),
                           st.one_of(st.binary(max_size=6),
                                     st.sampled_from([b",", b";", b"\n", b"\t", b'"', b"E9",
                                                      b"\xe2\x88\x92", b"NaN", b"\xef\xbb\xbf",
                                                      b"1e400", b"-", b"\x00", b"@"])),
                           st.integers(0, 40)), max_size=6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SAMPLES)), edits=EDITS)
def test_fuzz_phone_files(tmp_path_factory, name, edits):
    from har_studio.data.formats.phone_files import read_phone
    from har_studio.data.sidecar import make_identity

    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_bytes(_edit(SAMPLES[name], edits))
    try:
        pf = read_phone(path, make_identity(1, "walking"))
    except DataError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    if pf is None:          # no longer recognised as the app's: the general parser's business
        return
    table = pf.table
    assert len(table) > 0 and table.timestamp.dtype == np.int64 and table.timestamp.min() >= 0
    assert np.all(np.diff(table.timestamp) >= 0)
    for values in table.channels.values():
        assert values.dtype == np.float32 and np.isfinite(values).all()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_clock_cell_cut_short_is_reported_without_a_warning(tmp_path):
    # hypothesis found it: two cuts leave a float where the clock's whole number was; the
    # typed fast read refuses it (after pandas warned of an invalid cast, now muted) and the
    # slower read reports or takes the lines
    from har_studio.data.formats.phone_files import read_phone
    from har_studio.data.sidecar import make_identity

    path = tmp_path / "Accelerometer.csv"
    path.write_bytes(_edit(SAMPLES["Accelerometer.csv"], [(76, b"", 33), (132, b"", 40)]))
    try:
        pf = read_phone(path, make_identity(1, "walking"))
    except DataError as exc:
        assert str(path) in str(exc)
    else:
        assert pf is None or np.all(np.diff(pf.table.timestamp) >= 0)


def test_sensor_logger_csv_under_another_name(tmp_path):
    t = 1_662_729_295_900_810_000 + np.arange(30) * 10_000_000
    xyz = np.column_stack([np.full(30, 0.3), np.full(30, -1.2), np.full(30, 9.7)])
    files = sensor_logger_files(t, xyz, "ios", uncalibrated=True)
    raw = tmp_path / "walk_raw.csv"
    raw.write_text(files["AccelerometerUncalibrated.csv"])
    data = load(raw, **WHO)
    np.testing.assert_allclose(xyz_of(data), xyz, atol=1e-6)
    assert "iPhone: signs flipped" in note(data)
    total = tmp_path / "walk_total.csv"
    total.write_text(sensor_logger_files(t, xyz, "android")["TotalAcceleration.csv"])
    np.testing.assert_allclose(xyz_of(load(total, **WHO)), xyz, atol=1e-6)
    user = tmp_path / "walk_user.csv"
    user.write_text(sensor_logger_files(t, xyz, "android")["Accelerometer.csv"])
    with pytest.raises(DataError) as err:
        load(user, **WHO)
    assert "without gravity" in _one_line(err, user)


def test_unusable_identity_matters_only_for_phone_files(tmp_path):
    wisdm = tmp_path / "w.txt"
    wisdm.write_text("1,Walking,100,0,9.8,0;\n1,Walking,200,0,9.8,0;\n")
    assert load(wisdm, subject="", activity="!!").report.subjects == [1]
    path = write_phyphox(tmp_path / "Raw Data.csv", np.arange(5) * 10**7, np.zeros((5, 3)) + 5.7)
    with pytest.raises(DataError) as err:
        load(path, subject="", activity="walking")
    assert "the subject is empty" in _one_line(err, path)
    with pytest.raises(DataError, match="not an activity"):
        load(path, subject=1, activity="!!")


def test_identities_needed_lists_each_export_of_a_folder(tmp_path):
    from har_studio.data.loaders import identities_needed

    t = 1_700_000_000_000_000_000 + np.arange(20) * 10_000_000
    xyz = np.tile([0.0, 0.0, 9.8], (20, 1))
    first = write_sensor_logger(tmp_path / "exports" / "2024-01-01_10-00-00", t, xyz, "android")
    second = write_sensor_logger(tmp_path / "exports" / "2024-01-01_11-00-00", t, xyz, "ios")
    write_phyphox(tmp_path / "exports" / "Raw Data.csv", t, xyz)
    (tmp_path / "exports" / "w.txt").write_text("1,Walking,100,0,9.8,0;\n")
    write_sidecar(second, subject="7")
    found = dict(identities_needed(tmp_path / "exports"))
    assert found == {first: (True, True, "Sensor Logger"), second: (False, True, "Sensor Logger"),
                     tmp_path / "exports" / "Raw Data.csv": (True, True, "phyphox")}


def test_a_date_nanoseconds_cannot_hold_is_unreadable_not_a_crash():
    """Found by the fuzz test: a damaged date-time column (year 23) made pandas raise
    OutOfBoundsDatetime; such a value now counts as unreadable like any other."""
    import pandas as pd

    from har_studio.data.formats.times import seconds_or_dates

    ns, base, kind = seconds_or_dates(pd.Series(["0023-11-06 07:24:37", "2023-11-06 07:24:38",
                                                 "2023-11-06 07:24:39"]))
    assert kind == "date-time" and np.isnan(ns[0])
    assert ns[2] - ns[1] == pytest.approx(1e9)
