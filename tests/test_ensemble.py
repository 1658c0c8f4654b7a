"""An ensemble (``ViTConfig.members``): several networks in one model file, each trained on
its own loss, predicting the mean of their probabilities; saved, reloaded, calibrated and
counted like one network."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny_models import TINY, drain

from har_studio.data.demo import demo_dataset, demo_frame
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.model.config import ViTConfig
from har_studio.model.io import load_model, save_model
from har_studio.model.summary import count_macs
from har_studio.model.vit import TimeSeriesViT, ViTEnsemble, build_network
from har_studio.training import TrainConfig, default_model_config, prepare_data, train
from har_studio.training.calibration import CalibrationConfig, calibrate, frozen_prefixes

ACTS = ("walking", "jogging", "sitting", "standing")
FAST = dict(batch_size=32, device="cpu", precision="fp32", patience=0, keep_best=False)
SMALL = ViTConfig(series=32, modal=3, classes=4, patch_size=4, **TINY)


def test_an_ensemble_is_its_members_side_by_side():
    config = replace(SMALL, members=3)
    torch.manual_seed(0)
    model = build_network(config)
    assert isinstance(model, ViTEnsemble) and len(model.members) == 3
    assert isinstance(build_network(SMALL), TimeSeriesViT)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == config.weight_shapes()
    n = sum(p.numel() for p in model.parameters())
    assert n == config.parameter_count == 3 * SMALL.parameter_count
    assert count_macs(config) == 3 * count_macs(SMALL)
    # differently initialised: otherwise averaging them would change nothing
    first, second = (m.head_out.weight for m in model.members[:2])
    assert not torch.equal(first, second)
    with pytest.raises(ValueError, match="build_network"):
        TimeSeriesViT(config)


def test_it_predicts_the_mean_of_its_members_probabilities():
    torch.manual_seed(1)
    model = build_network(replace(SMALL, members=3)).eval()
    x = torch.randn(5, 32, 3)
    with torch.no_grad():
        mean = torch.stack([torch.softmax(m(x), dim=-1) for m in model.members]).mean(dim=0)
        out = model(x)
        logits, attention = model.forward_with_attention(x)
    assert out.shape == (5, 4)
    assert torch.allclose(torch.softmax(out, dim=-1), mean, atol=1e-6)
    assert torch.allclose(logits, out, atol=1e-6)
    assert attention.shape == (5, 3, SMALL.patch_num)
    assert torch.allclose(attention.sum(dim=-1), torch.ones(5, 3), atol=1e-5)
    model.train()
    assert model(x).shape == (3, 5, 4)   # training: each member's own logits


@pytest.fixture(scope="module")
def trained():
    dataset = demo_dataset(subjects=3, seconds_per_activity=12.0, activities=ACTS)
    prepared = prepare_data(dataset, WindowConfig(size=32, step=16),
                            SplitConfig(test_fraction=0.0, val_fraction=0.0))
    config = default_model_config(prepared, members=2, **TINY)
    _, result = drain(train(prepared, config, TrainConfig(epochs=3, lr=3e-3, **FAST)))
    return prepared, result


def test_training_an_ensemble_trains_every_member_and_saves_it(trained, tmp_path):
    prepared, result = trained
    bundle = result.bundle
    assert isinstance(bundle.model, ViTEnsemble)
    assert result.history[-1].train_loss < result.history[0].train_loss
    # each member learnt on its own: both differ from their start and from each other
    a, b = (m.head_out.weight.detach() for m in bundle.model.members)
    assert not torch.allclose(a, b)
    path = save_model(tmp_path / "ensemble.harmodel", bundle)
    again = load_model(path)
    assert again.model_config.members == 2
    X = prepared.train.X[:20]
    assert np.allclose(again.predict_proba(X), bundle.predict_proba(X), atol=1e-6)
    accuracy = float((bundle.predict(X) == prepared.train.y[:20]).mean())
    assert accuracy > 0.5


def test_each_member_learns_exactly_as_it_would_alone():
    """The first member starts from the weights a single network of the same seed starts
    from and sees the same batches: with its own loss and its own gradient clip it must end
    where that network ends (clipping all members together would couple them)."""
    dataset = demo_dataset(subjects=2, seconds_per_activity=10.0, activities=ACTS)
    prepared = prepare_data(dataset, WindowConfig(size=32, step=16),
                            SplitConfig(test_fraction=0.0, val_fraction=0.0))
    settings = TrainConfig(epochs=2, lr=3e-3, grad_clip=0.05, **FAST)   # clipped every step
    _, alone = drain(train(prepared, default_model_config(prepared, **TINY), settings))
    _, together = drain(train(prepared, default_model_config(prepared, members=2, **TINY),
                              settings))
    mine = together.bundle.model.members[0].state_dict()
    for name, value in alone.bundle.model.state_dict().items():
        torch.testing.assert_close(mine[name], value, rtol=1e-5, atol=1e-6)


def test_calibrating_an_ensemble_freezes_the_same_layers_in_every_member(trained, tmp_path):
    _, result = trained
    base = result.bundle
    before = {k: v.detach().clone() for k, v in base.model.state_dict().items()}
    frame = demo_frame(subjects=7, seconds_per_activity=20.0, activities=ACTS, seed=3)
    person = frame[frame["subject"] == 7].reset_index(drop=True)
    config = CalibrationConfig(seconds=8.0, freeze="blocks:1", epochs=2, lr=1e-2, step=8,
                               batch_size=16, precision="fp32")
    _, calibrated = drain(calibrate(base, person, config))
    after = calibrated.bundle.model.state_dict()
    prefixes = frozen_prefixes("blocks:1", base.model_config.depth)
    for member in range(2):
        mine = f"members.{member}."
        frozen = [k for k in before if k.startswith(mine) and k[len(mine):].startswith(prefixes)]
        trained_names = [k for k in before if k.startswith(mine) and k not in frozen]
        assert frozen and trained_names
        assert all(torch.equal(before[k], after[k]) for k in frozen)
        assert not torch.equal(before[mine + "head_out.weight"], after[mine + "head_out.weight"])


def test_an_ensemble_exports_to_onnx_with_the_same_probabilities(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from har_studio.model.onnx_export import export_onnx

    _, result = trained
    out = export_onnx(result.bundle, tmp_path / "ensemble.onnx")
    assert 0 <= out["max_abs_diff"] < 1e-4
