"""The bench scripts' own argument parsing (the benches themselves print figures; they are not
run by the tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from har_studio.model.config import ViTConfig

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_module(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_variants_read_each_field_as_its_type():
    changes = bench_module("bench_train").model_changes(
        ViTConfig(patch_size=8), "patch_size=4+dropout=0.1+members=3")
    assert changes == {"patch_size": 4, "dropout": 0.1, "members": 3}
    assert isinstance(changes["dropout"], float)


@pytest.mark.parametrize("spec, words", [
    ("att_sise=16", "att_sise"),            # no such field
    ("dropout=1.5", "dropout"),             # refused by ViTConfig
    ("patch_size", "field=value"),          # no value
])
def test_model_variants_refuse_with_a_message(spec, words):
    with pytest.raises(SystemExit) as caught:
        bench_module("bench_train").model_changes(ViTConfig(patch_size=8), spec)
    assert words in str(caught.value)
