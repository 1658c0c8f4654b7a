"""The Data tab: loading in the background, summary, plot, window counts, errors, settings."""

from __future__ import annotations

import numpy as np
import pytest

from har_studio.data.demo import demo_dataset, write_demo_files
from har_studio.data.splits import RANDOM_SPLIT_WARNING, SplitConfig, split_windows
from har_studio.data.windows import WindowConfig, make_windows
from har_studio.ui.data import DataController, DataTab
from har_studio.ui.data import tab as data_tab_module
from har_studio.ui.state import AppState
from har_studio.ui.workers import live_workers, stop_all_workers

TIMEOUT = 20_000


@pytest.fixture
def tab(qtbot):
    state = AppState()
    widget = DataTab(state)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    yield widget
    stop_all_workers()


@pytest.fixture
def errors(monkeypatch):
    """Replace the modal error dialog; record its calls."""
    calls = []

    def fake_show_error(parent, title, text):
        calls.append((title, text))

    monkeypatch.setattr(data_tab_module, "show_error", fake_show_error)
    return calls


def _wait_counts(qtbot, tab):
    """Wait until the window counts match the tab's current settings."""
    qtbot.waitUntil(lambda: tab.window_counts is not None and not tab.controller.counting
                    and not tab._debounce.isActive(), timeout=TIMEOUT)
    return tab.window_counts


def test_open_paths_loads_and_shows_summary_plot_and_counts(qtbot, tab, tmp_path, errors):
    paths = write_demo_files(tmp_path, subjects=3, seconds_per_activity=20.0)
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT) as blocker:
        tab.open_paths(paths)
    ds = blocker.args[0]
    assert tab.state.dataset is ds
    assert tab.state.dataset_paths == [str(paths[0])]
    records = 3 * 6 * 400
    assert ds.report.records == records
    text = tab.summary_text()
    assert f"Records: {records:,}" in text
    assert "Subjects: 3" in text
    assert "demo_wisdm_v11.txt" in text
    assert "Sampling rate: 20.0 Hz" in text
    # plot of the first subject / activity has its 400 samples on x, y, z
    for c in ("x", "y", "z"):
        xs, ys = tab.view.plot_curves[c].getData()
        assert xs is not None and len(xs) == 400
        assert np.isclose(xs[-1], 399 * 0.05, atol=0.05)  # seconds
    assert tab.view.plot_curves["gx"].getData()[0] is None or len(tab.view.plot_curves["gx"].getData()[0]) == 0
    # activity chart: samples per activity
    assert sorted(tab.view.activity_chart.values) == [1200] * 6
    # window counts per class equal an independent windowing + split
    counts = _wait_counts(qtbot, tab)
    cfg = tab.state.window_config
    w = make_windows(ds.frame, cfg)
    sp = split_windows(w, tab.state.split_config)
    rows = tab.counts_rows()
    assert len(rows) == len(w.labels) + 1 and rows[-1][0] == "Total"
    for i, name in enumerate(w.labels):
        row = rows[i]
        assert row[0] == name
        assert int(row[1]) == int(np.sum(w.y[sp.train] == i)) > 0
        assert int(row[4]) == int(np.sum(w.y == i))
    assert int(rows[-1][4]) == len(w) == counts.total
    assert "imbalance" in tab.view.counts_label.text().lower()
    assert errors == []


def test_plot_follows_subject_and_activity_choice(qtbot, tab):
    tab.state.set_dataset(demo_dataset(subjects=2, seconds_per_activity=10.0, gyro=True))
    tab.select_plot(2, "jogging")
    xs, ys = tab.view.plot_curves["y"].getData()
    frame = tab.state.dataset.frame
    expected = frame[(frame["subject"] == 2) & (frame["activity"] == "jogging")]["y"].to_numpy()
    np.testing.assert_array_equal(ys, expected)
    assert len(tab.view.plot_curves["gz"].getData()[0]) == len(expected)  # gyro plotted too
    assert not tab.view.gyro_plot.isHidden()
    with pytest.raises(ValueError):
        tab.select_plot(99, "jogging")


def test_bad_file_shows_error_and_keeps_state(qtbot, tab, tmp_path, errors):
    tab.state.set_dataset(demo_dataset(subjects=2, seconds_per_activity=10.0))
    before = tab.state.dataset
    bad = tmp_path / "broken_recording.txt"
    bad.write_text("this is not,a recording\n\x00\x01garbage;;;\nmore nonsense\n")
    with qtbot.waitSignal(tab.loadFailed, timeout=TIMEOUT) as blocker:
        tab.open_paths([bad])
    assert len(errors) == 1
    title, text = errors[0]
    assert "broken_recording.txt" in text
    assert "broken_recording.txt" in blocker.args[0]
    assert tab.state.dataset is before
    assert tab.panel.message.level() == "error" and "broken_recording.txt" in tab.panel.message.text()
    assert not tab.is_loading()


def test_missing_file_is_an_error_not_a_crash(qtbot, tab, tmp_path, errors):
    missing = tmp_path / "nowhere" / "data_1600_accel_phone.txt"
    with qtbot.waitSignal(tab.loadFailed, timeout=TIMEOUT):
        tab.open_paths([missing])
    assert len(errors) == 1 and "data_1600_accel_phone.txt" in errors[0][1]
    assert tab.state.dataset is None


def test_new_load_replaces_the_old_one(qtbot, tab, tmp_path, errors):
    a = write_demo_files(tmp_path / "a", subjects=2, seconds_per_activity=30.0)
    b = write_demo_files(tmp_path / "b", subjects=3, seconds_per_activity=5.0)
    loaded = []
    tab.datasetLoaded.connect(lambda ds: loaded.append(ds))
    tab.open_paths(a)
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT):
        tab.open_paths(b)
    qtbot.waitUntil(lambda: not live_workers(), timeout=TIMEOUT)
    assert len(loaded) == 1
    assert tab.state.dataset_paths == [str(b[0])]
    assert tab.state.dataset.subjects == [1, 2, 3]


def test_cancel_never_sets_the_dataset(qtbot, tab, tmp_path, errors):
    paths = write_demo_files(tmp_path, subjects=2, seconds_per_activity=10.0)
    tab.open_paths(paths)
    assert tab.is_loading() and tab.panel.progress_box.isVisibleTo(tab)
    tab.cancel_load()
    assert not tab.is_loading() and not tab.panel.progress_box.isVisibleTo(tab)
    qtbot.waitUntil(lambda: not live_workers(), timeout=TIMEOUT)
    assert tab.state.dataset is None
    assert "cancel" in tab.panel.message.text().lower()


def test_random_split_shows_the_warning_and_reaches_state(qtbot, tab):
    tab.state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=20.0))
    _wait_counts(qtbot, tab)
    assert tab.split_warning() == ""
    tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("random"))
    assert tab.split_warning() == RANDOM_SPLIT_WARNING
    assert tab.panel.split_message.isVisibleTo(tab)
    qtbot.waitUntil(lambda: tab.state.split_config.kind == "random", timeout=TIMEOUT)
    _wait_counts(qtbot, tab)
    assert tab.window_counts.split["kind"] == "random"
    tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("subject"))
    assert tab.split_warning() == ""


def test_window_and_class_settings_reach_state_and_counts(qtbot, tab):
    tab.state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=20.0))
    _wait_counts(qtbot, tab)
    with qtbot.waitSignal(tab.state.dataSettingsChanged, timeout=TIMEOUT):
        tab.panel.window_size.setValue(64)
        tab.panel.window_step.setValue(32)
    assert tab.state.window_config.size == 64 and tab.state.window_config.step == 32
    tab.panel.activity_list.set_checked(["sitting", "walking"])
    qtbot.waitUntil(lambda: tab.state.activities is not None, timeout=TIMEOUT)
    assert sorted(tab.state.activities) == ["sitting", "walking"]
    counts = _wait_counts(qtbot, tab)
    assert counts.labels == ["walking", "sitting"]
    rows = tab.counts_rows()
    assert [r[0] for r in rows] == ["walking", "sitting", "Total"]
    per_recording = (400 - 64) // 32 + 1
    assert int(rows[-1][4]) == 3 * 2 * per_recording
    # channels: a subset reaches the state; none is an error shown inline
    tab.panel.channel_list.set_checked(["x", "z"])
    qtbot.waitUntil(lambda: tab.state.channels == ["x", "z"], timeout=TIMEOUT)
    tab.panel.channel_list.set_checked([])
    qtbot.waitUntil(lambda: tab.panel.settings_message.level() == "error", timeout=TIMEOUT)
    assert "channel" in tab.panel.settings_message.text()
    assert tab.state.channels == ["x", "z"]  # the bad choice did not reach the state


def test_wisdm_a_to_e_preset_and_chosen_subjects(qtbot, tab):
    tab.state.set_dataset(demo_dataset(subjects=4, seconds_per_activity=12.0,
                                       activities=("walking", "jogging", "stairs", "sitting",
                                                   "standing", "typing", "teeth")))
    _wait_counts(qtbot, tab)
    tab.panel.wisdm_ae_button.click()
    assert sorted(tab.panel.activity_list.checked()) == ["jogging", "sitting", "stairs", "standing",
                                                    "walking"]
    tab.panel.subject_mode.setCurrentIndex(tab.panel.subject_mode.findData("choose"))
    assert tab.panel.pick_box.isVisibleTo(tab)
    tab.panel.test_subjects.set_checked(["2"])
    tab.panel.val_subjects.set_checked(["4"])
    qtbot.waitUntil(lambda: tab.state.split_config.test_subjects == (2,)
                    and tab.state.split_config.val_subjects == (4,), timeout=TIMEOUT)
    counts = _wait_counts(qtbot, tab)
    assert counts.split["test_subjects"] == [2] and counts.split["train_subjects"] == [1, 3]
    # the same subject as test and validation is refused inline
    tab.panel.val_subjects.set_checked(["2"])
    qtbot.waitUntil(lambda: tab.panel.settings_message.level() == "error", timeout=TIMEOUT)
    assert tab.state.split_config.val_subjects == (4,)


def test_recent_paths_are_remembered(qtbot, tab, tmp_path, errors):
    paths = write_demo_files(tmp_path, subjects=2, seconds_per_activity=5.0)
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT):
        tab.open_paths(paths)
    assert DataController.last_paths() == [str(paths[0])]
    assert DataController.recent_entries()[0] == [str(paths[0])]
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT):
        tab.open_demo()
    assert DataController.last_paths() == [str(paths[0])]  # the demo is not "last used data"
    assert tab.state.dataset.report.format == "demo"


def test_split_config_matches_controls(tab):
    tab.state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=10.0))
    tab.panel.seed.setValue(7)
    tab.panel.test_percent.setValue(30)
    window, split, activities, channels = tab.current_settings()
    assert isinstance(window, WindowConfig) and window.rate_hz == 20.0
    assert split == SplitConfig(kind="subject", test_fraction=0.3,
                                val_fraction=split.val_fraction, seed=7)
    assert activities is None and channels is None


def test_random_split_shows_the_subject_wise_estimate_next_to_it(qtbot, tab):
    from har_studio.training.crossval import CVResult, remember_cv

    tab.state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=20.0))
    _wait_counts(qtbot, tab)
    assert tab.split_guidance() == ""
    tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("random"))
    text = tab.split_guidance()
    assert "never seen" in text and "Cross-validate by subject" in text
    assert tab.panel.split_gap_note.isVisibleTo(tab)
    # once the user has cross-validated with these data settings, their own figure shows
    window, _split, activities, channels = tab.current_settings()
    settings = {"window": window.to_dict(), "activities": activities, "channels": channels}
    remember_cv(CVResult(folds=[{"accuracy": 0.731}], k=3, labels=["a", "b"],
                         accuracy_mean=0.731, accuracy_std=0.042, accuracy_min=0.7,
                         accuracy_max=0.76, f1_mean=0.7, f1_std=0.0, f1_min=0.7, f1_max=0.7,
                         pooled_accuracy=0.73, pooled_f1=0.7, confusion=[], per_subject={},
                         per_class={}, minutes=1.0, cpu_minutes=1.0, settings=settings))
    tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("subject"))
    assert tab.split_guidance() == "" and not tab.panel.split_gap_note.isVisibleTo(tab)
    tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("random"))
    assert "73.1% ± 4.2%" in tab.split_guidance()
