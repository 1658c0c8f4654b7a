"""The model that ships with the app loads, says where it came from and classifies the
built-in demo recordings sensibly."""

from __future__ import annotations

import numpy as np

from har_studio.data.demo import demo_frame
from har_studio.data.windows import make_windows
from har_studio.model.shipped import DEFAULT_MODEL_NAME, default_model_path, load_default_model
from har_studio.paths import resources_dir
from har_studio.training.metrics import evaluate_bundle


def test_the_shipped_model_is_found_in_resources():
    path = default_model_path()
    assert path is not None and path == resources_dir() / "models" / DEFAULT_MODEL_NAME
    assert path.stat().st_size < 5_000_000


def test_the_frozen_app_finds_it_in_its_bundle(tmp_path, monkeypatch):
    (tmp_path / "resources" / "models").mkdir(parents=True)
    (tmp_path / "resources" / "models" / DEFAULT_MODEL_NAME).write_bytes(b"x")
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path), raising=False)
    assert default_model_path() == tmp_path / "resources" / "models" / DEFAULT_MODEL_NAME


def test_the_shipped_model_classifies_the_demo_data():
    bundle = load_default_model()
    recipe = bundle.recipe
    assert len(recipe["trained_on"]["subjects"]) == 16
    assert "cross_person" in recipe and recipe["preset"]["name"]
    known = [a for a in ("walking", "jogging", "sitting", "standing") if a in bundle.labels]
    assert len(known) == 4
    frame = demo_frame(subjects=2, seconds_per_activity=40.0, activities=known, seed=1)
    windows = make_windows(frame, bundle.window, channels=list(bundle.channels),
                           labels=list(bundle.labels))
    proba = bundle.predict_proba(windows.X)
    assert proba.shape == (len(windows), len(bundle.labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    metrics = evaluate_bundle(bundle, windows, latency=False)
    # Synthetic demo people, a model trained on real ones: far above the 1-in-5 guess.
    assert metrics["accuracy"] >= 0.6, metrics["confusion"]


def test_the_shipped_model_is_the_built_in_recipe():
    """Changing the built-in preset (or the default one it builds on) means rebuilding the
    built-in model (`make default-model`): the app must not describe one recipe and ship
    another."""
    from har_studio.training.presets import BUILT_IN_PRESET, DEFAULT_PRESET, get_preset

    bundle = load_default_model()
    preset = get_preset(BUILT_IN_PRESET)
    default = get_preset(DEFAULT_PRESET)
    assert preset.features == default.features and preset.training == default.training
    assert {k: v for k, v in preset.model.items() if k != "members"} == default.model
    assert bundle.recipe["preset"] == preset.to_dict()
    for field, value in preset.model_overrides().items():
        assert getattr(bundle.model_config, field) == value, field
