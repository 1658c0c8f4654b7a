"""The model file: round trip, predictions, atomic saves, and every kind of bad file."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from har_studio.data.dataset import CHANNEL_UNITS
from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig
from har_studio.model.config import ViTConfig
from har_studio.model.io import (
    FORMAT_VERSION,
    PREDICT_BATCH,
    ModelBundle,
    ModelFileError,
    load_model,
    save_model,
)
from har_studio.model.vit import TimeSeriesViT

CONFIG = ViTConfig(series=40, modal=3, classes=4, embedding_dim=16, patch_size=4, head_num=2,
                   att_size=8, depth=2, head_width=32)
LABELS = ["walking", "jogging", "sitting", "standing"]


def make_bundle(seed: int = 0, config: ViTConfig = CONFIG) -> ModelBundle:
    torch.manual_seed(seed)
    model = TimeSeriesViT(config)
    with torch.no_grad():
        model.position.normal_()  # non-zero, so a lost tensor would show
    rng = np.random.default_rng(seed)
    normaliser = Normaliser(rng.normal(size=config.modal).astype(np.float32),
                            rng.uniform(0.5, 2.0, size=config.modal).astype(np.float32))
    recipe = {"split": {"kind": "subject", "test_subjects": [3, 7]},
              "train": {"epochs": 2, "lr": 1e-3}, "metrics": {"accuracy": np.float64(0.75)}}
    return ModelBundle(model.eval(), config, WindowConfig(size=config.series, step=20),
                       ["x", "y", "z"][:config.modal], LABELS[:config.classes], normaliser, recipe)


@pytest.fixture
def saved(tmp_path):
    bundle = make_bundle()
    path = tmp_path / "model.harmodel"
    save_model(path, bundle)
    return bundle, path


def windows(n: int, size: int = 40, channels: int = 3, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 5, size=(n, size, channels)).astype(np.float32)


def rewrite(src, dst, metadata=None, tensors=None):
    """Copy a model file with changed metadata and/or tensors (a file a bug or a user made)."""
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        data = {k: f.get_tensor(k) for k in f.keys()}
    if metadata is not None:
        meta = metadata(meta)
    if tensors is not None:
        data = tensors(data)
        meta.pop("weights_sha256", None)  # as if another tool wrote it
    save_file(data, str(dst), metadata=meta)
    return dst


def edit_recipe(change):
    def apply(meta):
        recipe = json.loads(meta["har_studio"])
        change(recipe)
        return {**meta, "har_studio": json.dumps(recipe)}
    return apply


def assert_bad_file(path, *fragments):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message.lower(), message
    return message


# --- round trip ----------------------------------------------------------------------------

def test_round_trip_gives_identical_predictions_and_recipe(saved):
    bundle, path = saved
    loaded = load_model(path)
    X = windows(9)
    assert np.array_equal(loaded.predict_proba(X), bundle.predict_proba(X))
    assert loaded.model_config == CONFIG
    assert loaded.window == bundle.window
    assert loaded.channels == ["x", "y", "z"] and loaded.labels == LABELS
    assert loaded.units == {c: CHANNEL_UNITS[c] for c in "xyz"}
    assert np.array_equal(loaded.normaliser.mean, bundle.normaliser.mean)
    assert np.array_equal(loaded.normaliser.std, bundle.normaliser.std)
    assert loaded.recipe["split"] == {"kind": "subject", "test_subjects": [3, 7]}
    assert loaded.recipe["metrics"]["accuracy"] == 0.75
    assert loaded.recipe["versions"]["torch"] == torch.__version__
    assert {"har_studio", "numpy"} <= set(loaded.recipe["versions"])
    assert "created" in loaded.recipe
    assert not loaded.model.training
    assert "versions" not in bundle.recipe  # saving does not change the caller's bundle
    for name, tensor in bundle.model.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name])


def test_file_metadata_names_format_and_units(saved):
    _, path = saved
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "har-studio-model" and meta["format_version"] == str(FORMAT_VERSION)
    header = json.loads(meta["har_studio"])
    assert header["units"] == {"x": "m/s²", "y": "m/s²", "z": "m/s²"}
    assert header["model"] == CONFIG.to_dict()


def test_predict_proba_normalises_and_batches():
    bundle = make_bundle()
    X = windows(PREDICT_BATCH + 37)
    probs = bundle.predict_proba(X)
    assert probs.dtype == np.float32 and probs.shape == (len(X), 4)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    with torch.no_grad():
        normalised = (X - bundle.normaliser.mean) / bundle.normaliser.std
        expected = torch.softmax(bundle.model(torch.from_numpy(normalised[-5:])), -1).numpy()
    assert np.allclose(probs[-5:], expected, atol=1e-6)
    assert np.array_equal(bundle.predict(X), probs.argmax(axis=1))
    assert bundle.predict_proba(X[:0]).shape == (0, 4)


def test_predict_proba_with_attention():
    bundle = make_bundle()
    probs, attention = bundle.predict_proba_with_attention(windows(3))
    assert np.allclose(probs, bundle.predict_proba(windows(3)), atol=1e-6)
    assert attention.shape == (3, 3, 10)
    assert np.allclose(attention.sum(axis=-1), 1, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 39, 3), (2, 40, 6), (40, 3), (2, 40, 3, 1)])
def test_predict_proba_rejects_wrong_window_shapes(shape):
    with pytest.raises(ValueError, match=r"\[n, 40, 3\]"):
        make_bundle().predict_proba(np.zeros(shape, np.float32))


def test_save_rejects_inconsistent_bundle(tmp_path):
    bundle = make_bundle()
    bundle.labels = ["a", "b"]
    with pytest.raises(ValueError, match="activity names"):
        save_model(tmp_path / "bad.harmodel", bundle)
    bundle = make_bundle()
    bundle.recipe = {"what": object()}
    with pytest.raises(ValueError, match="recipe"):
        save_model(tmp_path / "bad.harmodel", bundle)
    assert not list(tmp_path.iterdir())


def test_failed_save_leaves_existing_file_intact(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # fails after the data was partly written
    with pytest.raises(OSError):
        save_model(path, make_bundle(seed=5))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
    load_model(path)


# --- bad files --------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    assert_bad_file(tmp_path / "nope.harmodel", "no such file")


def test_folder(tmp_path):
    assert_bad_file(tmp_path, "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.harmodel"
    path.write_bytes(b"")
    assert_bad_file(path, "empty")


@pytest.mark.parametrize("keep", [4, 100, 0.5, -1])
def test_truncated_file(saved, keep):
    _, path = saved
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else (keep if keep > 0 else len(data) + keep)
    path.write_bytes(data[:cut])
    assert_bad_file(path)


def test_truncated_weights_are_named_truncated(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:-10])
    assert_bad_file(path, "truncated")


def test_corrupted_weights_fail_the_checksum(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-4] ^= 0x01  # the lowest mantissa byte of the last weight: still a finite number
    path.write_bytes(bytes(data))
    assert_bad_file(path, "checksum")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.harmodel"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    assert_bad_file(path, "not a har studio model")


def test_text_file(tmp_path):
    path = tmp_path / "notes.harmodel"
    path.write_text("1,walking,123,0.1,0.2,9.8;\n" * 20)
    assert_bad_file(path, "not a har studio model")


def test_foreign_safetensors_files(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(plain))
    assert_bad_file(plain, "not a har studio model")
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other), metadata={"format": "pt"})
    assert_bad_file(other, "not a har studio model")


def test_newer_format_version(saved, tmp_path):
    _, path = saved
    newer = rewrite(path, tmp_path / "newer.harmodel",
                    metadata=lambda m: {**m, "format_version": str(FORMAT_VERSION + 1)})
    assert_bad_file(newer, "newer")
    garbled = rewrite(path, tmp_path / "garbled.harmodel",
                      metadata=lambda m: {**m, "format_version": "one"})
    assert_bad_file(garbled, "version")


@pytest.mark.parametrize("change, fragment", [
    (lambda r: r.pop("labels"), "labels"),
    (lambda r: r.pop("model"), "model"),
    (lambda r: r.pop("normaliser"), "normaliser"),
    (lambda r: r.update(labels="walking"), "labels"),
    (lambda r: r.update(labels=["a", "a", "b", "c"]), "labels"),
    (lambda r: r.update(labels=["a", "b"]), "activity names"),
    (lambda r: r.update(channels=["x", "y"]), "channel"),
    (lambda r: r["model"].update(patch_size=0), "patch_size"),
    (lambda r: r["model"].update(series="40"), "series"),
    (lambda r: r["model"].update(flavour=1), "unknown"),
    (lambda r: r["window"].update(size=64), "window size"),
    (lambda r: r["window"].update(step=0), "window"),
    (lambda r: r["normaliser"].update(std=[1.0, 0.0, 1.0]), "normalisation"),
    (lambda r: r.update(recipe=[1, 2]), "recipe"),
])
def test_recipe_with_missing_or_invalid_fields(saved, tmp_path, change, fragment):
    _, path = saved
    bad = rewrite(path, tmp_path / "bad.harmodel", metadata=edit_recipe(change))
    assert_bad_file(bad, fragment)


def test_recipe_that_is_not_json(saved, tmp_path):
    _, path = saved
    bad = rewrite(path, tmp_path / "bad.harmodel", metadata=lambda m: {**m, "har_studio": "{oops"})
    assert_bad_file(bad, "json")


def test_weights_that_do_not_fit_the_configuration(saved, tmp_path):
    _, path = saved
    wider = rewrite(path, tmp_path / "wider.harmodel",
                    metadata=edit_recipe(lambda r: r["model"].update(head_width=64)))
    assert_bad_file(wider, "shape")
    deeper = rewrite(path, tmp_path / "deeper.harmodel",
                     metadata=edit_recipe(lambda r: r["model"].update(depth=3)))
    assert_bad_file(deeper, "missing")
    extra = rewrite(path, tmp_path / "extra.harmodel",
                    tensors=lambda t: {**t, "spare": torch.zeros(2)})
    assert_bad_file(extra, "unexpected")
    nan = rewrite(path, tmp_path / "nan.harmodel",
                  tensors=lambda t: {**t, "head_out.bias": torch.full_like(t["head_out.bias"], float("nan"))})
    assert_bad_file(nan, "nan")
    ints = rewrite(path, tmp_path / "ints.harmodel",
                   tensors=lambda t: {**t, "head_out.bias": torch.zeros(4, dtype=torch.int64)})
    assert_bad_file(ints, "non-float")


def test_torch_pickles_are_refused(tmp_path):
    state = make_bundle().model.state_dict()
    zipped = tmp_path / "zip.harmodel"
    torch.save(state, zipped)
    assert_bad_file(zipped, "pickle")
    legacy = tmp_path / "legacy.harmodel"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    assert_bad_file(legacy, "pickle")


class _Hostile:
    """Unpickling this runs code: it opens (creates) a file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_hostile_pickle_does_not_run(tmp_path):
    # The payload really is hostile: unpickling it creates its file.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Hostile(str(proof)))).close()
    assert proof.exists()

    marker = tmp_path / "pwned"
    for protocol in (2, 4, 5):
        path = tmp_path / f"hostile{protocol}.harmodel"
        path.write_bytes(pickle.dumps({"weights": _Hostile(str(marker))}, protocol=protocol))
        assert_bad_file(path, "pickle")
        assert not marker.exists()
    zipped = tmp_path / "hostile.pt"
    torch.save({"weights": _Hostile(str(marker))}, zipped)
    assert_bad_file(zipped, "pickle")
    assert not marker.exists()
