"""Hostile model and data files (issue 9): each refused with one line naming the file and the
reason, before anything large is allocated or read. The cases come from tests/hostile.py, the
same generator bench/bench_hostile.py measures in subprocesses (memory, seconds)."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from hostile import data_cases, edit_model, model_cases, read_raw, valid_model, write_small_data

from har_studio.cli import run_cli
from har_studio.data.dataset import DataError
from har_studio.data.loaders import load
from har_studio.model.io import FORMAT_VERSION, MAX_FILE_BYTES, ModelFileError, load_model


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_models")
    data = write_small_data(folder / "data.txt")
    return {c.name: c for c in model_cases(folder, data)}


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    return {c.name: c for c in data_cases(tmp_path_factory.mktemp("hostile_data"))}


MODEL_CASES = ["huge_depth", "huge_window", "huge_embedding", "huge_head", "window_size_float",
               "window_step_fraction", "window_gap_text", "window_rate_nan", "model_field_bool",
               "tiny_std", "infinite_mean", "recipe_digit_changed",
               "checksum_renamed_weight_changed", "weight_flipped", "deep_json_header",
               "deep_json_recipe", "shape_lie", "sparse_3gb", "sparse_600mb",
               "legacy_without_checksum",
               pytest.param("fifo", marks=pytest.mark.skipif(not hasattr(os, "mkfifo"),
                                                             reason="no FIFOs"))]


@pytest.mark.parametrize("name", MODEL_CASES)
def test_hostile_model_file_is_refused_with_one_line(model_folder, name):
    case = model_folder[name]
    with pytest.raises(ModelFileError) as info:
        load_model(case.path)
    message = str(info.value)
    assert "\n" not in message and str(case.path) in message
    assert case.expect in message.lower(), message


@pytest.mark.parametrize("name", ["huge_depth", "tiny_std", "recipe_digit_changed", "fifo",
                                  "deep_json_recipe"])
def test_evaluate_refuses_hostile_model_in_one_line(model_folder, name, capsys):
    if name == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs")
    case = model_folder[name]
    assert run_cli(case.args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(case.path) in err[0] and case.expect in err[0].lower()


def test_the_valid_base_loads_and_is_format_4(model_folder):
    bundle = load_model(model_folder["huge_depth"].path.parent / "valid.harmodel")
    assert bundle.model_config.depth == 2
    header, _ = read_raw(model_folder["huge_depth"].path.parent / "valid.harmodel")
    assert header["__metadata__"]["format_version"] == str(FORMAT_VERSION) == "4"
    assert len(header["__metadata__"]["checksum"]) == 64


def test_sparse_file_is_refused_from_its_size_alone(model_folder):
    case = model_folder["sparse_3gb"]
    assert case.path.stat().st_size > MAX_FILE_BYTES
    assert "too large" in str(pytest.raises(ModelFileError, load_model, case.path).value)


def test_files_written_by_format_2_still_load(tmp_path):
    """A file as the previous main wrote it (format 2, weights_sha256 over the weights only)
    loads; without its checksum it is refused."""
    import hashlib

    import torch

    base = valid_model(tmp_path / "v3.harmodel")
    header, blob = read_raw(base)
    digest = hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        begin, end = info["data_offsets"]
        digest.update(f"{name}|{torch.float32}|{info['shape']}|".encode())
        digest.update(blob[begin:end])

    def legacy(meta):
        meta.pop("checksum")
        meta.update(format_version="2", weights_sha256=digest.hexdigest())

    old = edit_model(base, tmp_path / "v2.harmodel", meta=legacy)
    bundle = load_model(old)
    assert bundle.model_config.depth == 2
    # a weight changed in the old format is still caught
    bad = edit_model(old, tmp_path / "v2bad.harmodel",
                     data=lambda b: b.__setitem__(len(b) // 3, b[len(b) // 3] ^ 0x10))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(bad)


def test_std_at_the_bound_gives_finite_predictions(tmp_path):
    base = valid_model(tmp_path / "v.harmodel")
    path = edit_model(base, tmp_path / "tiny.harmodel",
                      recipe=lambda r: r["normaliser"].update(std=[1e-6, 1.0, 1.0]))
    with pytest.raises(ModelFileError, match="checksum"):  # validation passed: only the sum
        load_model(path)


# --- data files ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zeros_2gb", "huge_ids", "png_named_txt",
                                  pytest.param("fifo_data", marks=pytest.mark.skipif(
                                      not hasattr(os, "mkfifo"), reason="no FIFOs"))])
def test_hostile_data_file_is_refused_with_one_line(data_folder, name, capsys):
    case = data_folder[name]
    with pytest.raises(DataError) as info:
        load(case.path)
    message = str(info.value)
    assert "\n" not in message and str(case.path) in message
    assert case.expect in message.lower(), message
    assert run_cli(case.args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # printed once: no log line before the error
    assert case.expect in err[0].lower()


def test_huge_ids_are_refused_never_wrapped(tmp_path):
    path = tmp_path / "ids.txt"
    ok_id = 2**62 - 1
    path.write_text(f"{2**63 + 5},Walking,1000000000,1,2,3;\n"
                    f"{2**64 - 1},Walking,1050000000,1,2,3;\n"
                    + "".join(f"{ok_id},Walking,{1_100_000_000 + i * 50_000_000},1,2,3;\n"
                              for i in range(3)))
    ds = load(path)
    assert ds.report.subjects == [ok_id]  # exact, and the two huge ones skipped
    assert ds.report.skipped.get("bad subject id") == 2
    assert (ds.frame["subject"].to_numpy() == ok_id).all()


def test_headed_csv_starting_at_zero_keeps_its_first_row(tmp_path):
    path = tmp_path / "rel.csv"
    rows = [(i * 50, float(i), 2.0 * i, -1.0) for i in range(6)]
    path.write_text("subject,activity,timestamp,x,y,z\n"
                    + "".join(f"3,walking,{t},{x},{y},{z}\n" for t, x, y, z in rows))
    ds = load(path)
    assert ds.report.records == len(rows) and not ds.report.skipped
    assert ds.frame["timestamp"].iloc[0] == 0
    assert np.allclose(ds.frame["y"].to_numpy(), [r[2] for r in rows])


def test_raw_wisdm_zero_timestamp_is_still_a_placeholder(tmp_path):
    path = tmp_path / "v11.txt"
    path.write_text("1,Walking,0,0,0,0;\n"
                    + "".join(f"1,Walking,{10**9 + i * 50_000_000},1,2,3;\n" for i in range(4)))
    ds = load(path)
    assert ds.report.records == 4 and sum(ds.report.skipped.values()) == 1


def test_zeros_file_is_refused_after_reading_its_head(tmp_path, monkeypatch):
    path = tmp_path / "zeros.txt"
    with open(path, "wb") as fh:
        fh.truncate(1 << 30)
    read = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    with pytest.raises(DataError, match="binary"):
        load(path)
    assert sum(read) <= 1 << 16


def test_model_dump_is_json(model_folder):
    header, _ = read_raw(model_folder["huge_depth"].path)
    assert json.loads(header["__metadata__"]["har_studio"])["model"]["depth"] == 100_000
    assert stat.S_ISFIFO(os.stat(model_folder["fifo"].path).st_mode) or not hasattr(os, "mkfifo")


@pytest.mark.parametrize("overrides", [{}, {"depth": 5, "series": 100, "patch_size": 5},
                                       {"modal": 6, "classes": 18, "head_num": 3, "att_size": 7,
                                        "embedding_dim": 24, "head_width": 33, "depth": 1}])
def test_weight_shapes_derived_without_torch_match_the_network(overrides):
    """The shapes a file is checked against equal those of the network built on torch's meta
    device, and the parameter count the bound uses equals the network's."""
    import torch

    from har_studio.model.config import ViTConfig
    from har_studio.model.vit import TimeSeriesViT

    config = ViTConfig(**overrides)
    with torch.device("meta"):
        model = TimeSeriesViT(config)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert config.weight_shapes() == shapes
    assert config.parameter_count == sum(p.numel() for p in model.parameters())


def test_refusing_a_bad_model_never_imports_torch(model_folder):
    """The settings, shapes, size and checksum are judged before torch is imported (so a
    refusal is not slowed by it): checked in a fresh interpreter."""
    import subprocess
    import sys

    paths = [str(model_folder[n].path) for n in ("huge_depth", "shape_lie", "weight_flipped",
                                                 "sparse_600mb", "recipe_digit_changed")]
    code = ("import sys\nfrom har_studio.model.io import ModelFileError, load_model\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n        load_model(p)\n    except ModelFileError:\n        pass\n"
            "    else:\n        raise SystemExit('loaded ' + p)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    proc = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("field, value, fragment", [
    ("depth", 17, "at most 16"), ("embedding_dim", 100_000, "at most 4096"),
    ("series", 2_000_000, "at most 8192"), ("head_width", 16384, "parameters"),
    ("depth", 3.0, "integer")])
def test_model_settings_have_upper_bounds(field, value, fragment):
    from har_studio.model.config import ViTConfig

    overrides = {field: value}
    if field == "head_width":
        overrides.update(embedding_dim=4096, patch_size=1)
    with pytest.raises(ValueError, match=fragment):
        ViTConfig(**overrides)


def test_train_refuses_huge_settings_and_missing_data_in_one_line(tmp_path, capsys):
    data = write_small_data(tmp_path / "d.txt")
    assert run_cli(["train", "--data", str(data), "--blocks", "100000"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(err) == 1 and "block count" in err[0]  # (after the preset's info line)
    assert run_cli(["train"]) == 1
    assert "--data is required" in capsys.readouterr().err
