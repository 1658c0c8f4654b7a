"""The time-series ViT: faithful to the reference, shapes, validation, size and the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from har_studio import cli
from har_studio.__main__ import main
from har_studio.model.config import ViTConfig
from har_studio.model.summary import count_macs, count_parameters, measure_latency_ms, model_summary
from har_studio.model.vit import TimeSeriesViT

TINY = dict(series=32, modal=3, classes=4, embedding_dim=16, patch_size=4, head_num=2,
            att_size=8, depth=2, head_width=32)


def tiny(**overrides) -> ViTConfig:
    return ViTConfig(**{**TINY, **overrides})


def reference_forward(model: TimeSeriesViT, x: torch.Tensor) -> torch.Tensor:
    """The reference model written naively (separate q/k/v, a loop over heads, zero-pad
    then slice-and-concatenate merging) using `model`'s weights."""
    c = model.config
    x = model.embed(x.unsqueeze(1))                 # [B, dim, patches, axes]
    x = x.permute(0, 3, 2, 1) + model.position      # [B, axes, patches, dim]
    inner = c.head_num * c.att_size
    for block in model.blocks:
        wq, wk, wv = block.qkv.weight.split(inner)
        bq, bk, bv = block.qkv.bias.split(inner)
        q, k, v = F.linear(x, wq, bq), F.linear(x, wk, bk), F.linear(x, wv, bv)
        heads = []
        for h in range(c.head_num):
            s = slice(h * c.att_size, (h + 1) * c.att_size)
            scores = q[..., s] @ k[..., s].transpose(-1, -2) / math.sqrt(c.att_size)
            heads.append(torch.softmax(scores, dim=-1) @ v[..., s])
        out = block.norm(block.out(torch.cat(heads, dim=-1)))
        x = torch.relu(x + out)
        if x.shape[2] % 2:
            x = torch.cat([x, torch.zeros_like(x[:, :, :1])], dim=2)
        x = torch.cat([x[:, :, 0::2], x[:, :, 1::2]], dim=-1)
        x = torch.relu(block.merge_norm(block.merge(x)))
    x = torch.relu(model.head_norm(model.head_fc(x.reshape(x.shape[0], -1))))
    return model.head_out(x)


def _randomise(model: torch.nn.Module) -> None:
    """Non-zero position embedding and non-trivial norms, so the comparison means something."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))


# --- the reference model ------------------------------------------------------------------

def test_reference_parameter_count():
    assert count_parameters(TimeSeriesViT(ViTConfig())) == 4_367_366


def test_six_channel_parameter_count():
    assert count_parameters(TimeSeriesViT(ViTConfig(modal=6))) == 7_537_670


@pytest.mark.parametrize("overrides", [{}, {"series": 40}, {"series": 36, "depth": 3},
                                       {"head_num": 3, "att_size": 5}])
def test_matches_naive_reference_implementation(overrides):
    torch.manual_seed(0)
    model = TimeSeriesViT(tiny(**overrides)).eval()
    _randomise(model)
    x = torch.randn(5, model.config.series, model.config.modal)
    with torch.no_grad():
        assert torch.allclose(model(x), reference_forward(model, x), atol=1e-5, rtol=1e-5)


def test_sdpa_and_matmul_attention_agree():
    torch.manual_seed(0)
    a = TimeSeriesViT(tiny(), attention="matmul").eval()
    b = TimeSeriesViT(tiny(), attention="sdpa").eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 32, 3)
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-5)
    with pytest.raises(ValueError, match="attention"):
        TimeSeriesViT(tiny(), attention="flash")


def test_output_shapes_and_input_layouts():
    model = TimeSeriesViT(tiny()).eval()
    x = torch.randn(7, 32, 3)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (7, 4)
        assert torch.equal(out, model(x.unsqueeze(1)))  # [B, 1, T, C] is accepted too
    for bad in (torch.randn(2, 31, 3), torch.randn(2, 32, 4), torch.randn(32, 3)):
        with pytest.raises(ValueError, match=r"\[batch, 32, 3\]"):
            model(bad)


def test_position_embedding_starts_at_zero_and_has_reference_shape():
    model = TimeSeriesViT(tiny())
    assert model.position.shape == (1, 3, 8, 16)
    assert torch.count_nonzero(model.position) == 0


def test_patch_embedding_cuts_each_axis_along_time():
    torch.manual_seed(0)
    model = TimeSeriesViT(tiny())
    _randomise(model)
    x = torch.randn(2, 32, 3)
    with torch.no_grad():
        embedded = model._embed(x)                       # [B, axes, patches, dim]
        kernel = model.embed.weight.reshape(16, 4)       # [dim, patch_size]
        for b, axis, patch in [(0, 0, 0), (1, 2, 5), (0, 1, 7)]:
            samples = x[b, patch * 4:(patch + 1) * 4, axis]
            expected = kernel @ samples + model.embed.bias + model.position[0, axis, patch]
            assert torch.allclose(embedded[b, axis, patch], expected, atol=1e-5)


def test_forward_builds_no_modules(monkeypatch):
    model = TimeSeriesViT(tiny(series=40)).eval()
    built = []
    original = torch.nn.Module.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "__init__", counting_init)
    with torch.no_grad():
        model(torch.randn(2, 40, 3))
        model.forward_with_attention(torch.randn(2, 40, 3))
    assert built == []


def test_odd_patch_counts_are_padded_at_every_block():
    config = tiny(series=40, depth=3)  # 10 patches -> 5 -> 3 -> 2
    assert [config.patches_after(i) for i in range(4)] == [10, 5, 3, 2]
    assert config.flatten_size == 3 * 2 * 16
    model = TimeSeriesViT(config).eval()
    assert model.head_fc.in_features == config.flatten_size
    with torch.no_grad():
        assert model(torch.randn(2, 40, 3)).shape == (2, 4)


def test_attention_width_may_differ_from_embedding():
    model = TimeSeriesViT(tiny(head_num=3, att_size=5)).eval()
    assert model.blocks[0].qkv.out_features == 45 and model.blocks[0].out.in_features == 15
    with torch.no_grad():
        assert model(torch.randn(2, 32, 3)).shape == (2, 4)


def test_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    model = TimeSeriesViT(tiny(dropout=0.5))
    x = torch.randn(3, 32, 3)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_forward_with_attention():
    torch.manual_seed(0)
    model = TimeSeriesViT(tiny(series=40)).eval()
    _randomise(model)
    x = torch.randn(6, 40, 3)
    with torch.no_grad():
        logits, attention = model.forward_with_attention(x)
        assert torch.allclose(logits, model(x), atol=1e-6)
    assert attention.shape == (6, 3, 10)
    assert torch.all(attention >= 0)
    assert torch.allclose(attention.sum(dim=-1), torch.ones(6, 3), atol=1e-5)
    assert attention.std() > 0  # not uniform: the weights depend on the input


def test_model_trains_with_bfloat16_autocast():
    torch.manual_seed(0)
    model = TimeSeriesViT(tiny())
    x, y = torch.randn(8, 32, 3), torch.randint(0, 4, (8,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# --- configuration ------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"series": 30}, "not divisible by patch size"),
    ({"patch_size": 0}, "patch_size"),
    ({"embedding_dim": -1}, "embedding_dim"),
    ({"head_num": 0}, "head_num"),
    ({"depth": 0}, "depth"),
    ({"classes": 1}, "classes"),
    ({"modal": 2.5}, "modal .* integer"),
    ({"series": True}, "series .* integer"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": "0.1"}, "dropout"),
])
def test_invalid_configurations_raise_value_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny(**overrides)


def test_config_dict_round_trip_and_validation():
    config = tiny(dropout=0.1)
    assert ViTConfig.from_dict(config.to_dict()) == config
    assert ViTConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert ViTConfig.from_dict({}) == ViTConfig()
    with pytest.raises(ValueError, match="unknown"):
        ViTConfig.from_dict({**config.to_dict(), "colour": 3})
    with pytest.raises(ValueError, match="integer"):
        ViTConfig.from_dict({**config.to_dict(), "depth": "3"})
    with pytest.raises(ValueError, match="mapping"):
        ViTConfig.from_dict([1, 2])


# --- size and speed -------------------------------------------------------------------------

def torch_counted_macs(model: TimeSeriesViT) -> int:
    """Multiply-adds of one window as counted by torch's own FLOP counter (matmuls, linears,
    convolutions and the attention products), halved: torch counts 2 FLOPs per multiply-add."""
    config = model.config
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, config.series, config.modal))
    return counter.get_total_flops() // 2


def hooked_macs(model: TimeSeriesViT) -> int:
    """Linear multiply-adds from forward hooks, plus the patch embedding's (its convolution's
    weights applied as one matrix product, which no hook sees: every weight once per patch of
    every axis); no attention products."""
    config = model.config
    total = model.embed.weight.numel() * config.modal * config.patch_num

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features
        else:
            kh, kw = module.kernel_size
            total += output.numel() * module.in_channels * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    with torch.no_grad():
        model(torch.randn(1, config.series, config.modal))
    for handle in handles:
        handle.remove()
    return total


def test_the_patch_embedding_is_its_convolution():
    config = tiny(series=40, modal=5)
    model = TimeSeriesViT(config).eval()
    x = torch.randn(3, config.series, config.modal)
    with torch.no_grad():
        model.position.normal_()
        convolved = model.embed(x.unsqueeze(1)).permute(0, 3, 2, 1) + model.position
        torch.testing.assert_close(model._embed(x), convolved, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("config", [
    ViTConfig(), tiny(), tiny(series=40, depth=3), tiny(head_num=3, att_size=5, modal=2),
])
def test_mac_count_matches_torch_counters(config):
    macs = count_macs(config)
    model = TimeSeriesViT(config, attention="matmul").eval()
    assert macs == torch_counted_macs(model)
    c = config
    attention_products, patches = 0, c.patch_num
    for _ in range(c.depth):
        attention_products += 2 * c.modal * c.head_num * patches * patches * c.att_size
        patches = (patches + 1) // 2
    assert macs - attention_products == hooked_macs(model)


def test_latency_and_summary():
    config = tiny()
    model = TimeSeriesViT(config)
    model.train()
    ms = measure_latency_ms(model, config, repeats=3, warmup=1)
    assert 0 < ms < math.inf   # how fast a window is classified: bench/bench_model.py
    assert model.training  # mode restored
    summary = model_summary(config, latency=False)
    assert summary == {"parameters": count_parameters(TimeSeriesViT(config)),
                       "macs": count_macs(config), "latency_ms": None}
    with pytest.raises(ValueError):
        measure_latency_ms(model, config, repeats=0)


# --- CLI --------------------------------------------------------------------------------------

@pytest.fixture
def model_cli_only(monkeypatch):
    """Run the CLI with only this area's subcommand registered, independent of other areas."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", {"model": "har_studio.model.commands"})


ARGS = ["model", "--window", "32", "--channels", "3", "--classes", "4", "--embedding", "16",
        "--patch", "4", "--heads", "2", "--head-size", "8", "--blocks", "2",
        "--head-width", "32", "--repeats", "3"]


def test_cli_model_json(model_cli_only, capsys):
    assert main([*ARGS, "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    summary = json.loads(out[0])
    assert set(summary) == {"parameters", "macs", "latency_ms"}
    assert summary["parameters"] == count_parameters(TimeSeriesViT(tiny()))
    assert summary["macs"] == count_macs(tiny())
    assert summary["latency_ms"] > 0


def test_cli_model_readable(model_cli_only, capsys):
    assert main([*ARGS, "--no-latency"]) == 0
    out = capsys.readouterr().out
    assert f"{count_parameters(TimeSeriesViT(tiny())):,}" in out
    assert "multiply-adds" in out and "latency" not in out


def test_cli_model_invalid_config_is_one_line(model_cli_only, capsys):
    assert main(["model", "--window", "30", "--patch", "4", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "not divisible" in lines[0]
    assert main(["model", "--embedding", "0"]) == 1
    assert "embedding_dim" in capsys.readouterr().err
