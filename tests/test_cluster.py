"""Ray: ``train --cv K --parallel ray`` against the sequential run, ``har-studio sweep`` end to
end (3 trials x 2 folds), a stopped sweep, and the messages without Ray. One local Ray with 2
CPUs serves the whole module (its start-up is the slow part) and is shut down at the end."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile

import pytest
import torch

from har_studio.data.demo import write_demo_files
from har_studio.progress import run_to_end
from har_studio.training import commands, sweep_commands
from har_studio.training.presets import (
    ROBUST,
    get_preset,
    load_preset_file,
    preset_toml,
    write_preset_file,
)
from har_studio.training.reports import list_cv_runs, list_sweeps, read_sweep
from har_studio.training.sweep import TrialFinished, load_space, run_sweep

TINY_FLAGS = ["--window", "32", "--step", "16", "--device", "cpu", "--precision", "fp32"]
TINY_MODEL = ["--embedding", "16", "--head-width", "32", "--blocks", "1", "--heads", "2",
              "--att-size", "8", "--batch-size", "32", "--epochs", "1"]
SPACE = """\
preset = "robust"
[model]
embedding_dim = { choice = [8, 16] }
head_width = 32
depth = 1
head_num = 2
att_size = 8
[training]
lr = { loguniform = [1e-3, 3e-3] }
epochs = 1
batch_size = 32
[features]
outputs = { choice = [["raw"], ["gravity_abs", "magnitude"]] }
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="har-studio")
    sub = parser.add_subparsers(dest="command")
    commands.register(sub)
    sweep_commands.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ray_2cpu():
    """One local Ray with 2 CPUs for the module; the commands reuse it and leave it running.
    Its session folder (logs, sockets, object spill) goes to a temporary folder that is removed
    afterwards, and what Ray, Tune and the sweep put into ``os.environ`` is taken out again."""
    ray = pytest.importorskip("ray")  # the cluster extra is part of `make test`
    before = dict(os.environ)
    temp = tempfile.mkdtemp(prefix="har-ray-")   # short: Ray's socket paths must fit 107 bytes
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
        try:
            yield ray
        finally:
            ray.shutdown()
    for name in set(os.environ) - set(before):   # set by Ray, Tune or the sweep itself
        del os.environ[name]
    os.environ.update(before)
    shutil.rmtree(temp, ignore_errors=True)
    assert not ray.is_initialized() and not os.path.exists(temp)


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wisdm")
    write_demo_files(folder, subjects=4, seconds_per_activity=10.0,
                     activities=("walking", "jogging", "sitting", "standing"))
    return folder


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE, encoding="utf-8")
    return path


def _without_timings(cv: dict) -> dict:
    cv = {k: v for k, v in cv.items() if k not in ("minutes", "cpu_minutes")}
    cv["folds"] = [{k: v for k, v in row.items() if k != "seconds"} for row in cv["folds"]]
    return cv


def test_parallel_cross_validation_equals_sequential(ray_2cpu, data_folder, tmp_path, capsys):
    runs = {}
    for name, extra in (("sequential", []), ("parallel", ["--parallel", "ray"])):
        out = tmp_path / name
        code = main(["train", "--data", str(data_folder), "--cv", "2", "--out", str(out),
                     "--json", *TINY_FLAGS, *TINY_MODEL, *extra])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        runs[name] = json.loads((out / "crossval.json").read_text())
    assert "2 folds as Ray tasks on 2 CPUs" in captured.err
    seq, par = runs["sequential"], runs["parallel"]
    assert par["folds_completed"] == 2 and [r["fold"] for r in par["folds"]] == [1, 2]
    # the same folds, seeds and figures: identical content, only the timings differ
    assert _without_timings(par) == _without_timings(seq)
    listed = {row["folder"].name: row for row in list_cv_runs(tmp_path)}
    assert sorted(listed) == ["parallel", "sequential"]
    assert listed["parallel"]["folds"][1]["accuracy"] == par["folds"][1]["accuracy"]


def test_sweep_three_trials_two_folds(ray_2cpu, data_folder, space_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "--data", str(data_folder), "--space", str(space_file), "--trials",
                 "3", "--cv", "2", "--no-early-stop", "--out", str(out), "--json",
                 *TINY_FLAGS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert not result["stopped"] and len(result["trials"]) == 3
    assert "[3/3 done, best so far" in captured.err       # progress on stderr
    for number in (1, 2, 3):
        tdir = out / "trials" / f"{number:04d}"
        cv = json.loads((tdir / "crossval.json").read_text())
        assert cv["folds_completed"] == 2
        with open(tdir / "folds.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["fold"] for r in rows] == ["1", "2"]
        assert float(rows[0]["accuracy"]) == pytest.approx(cv["folds"][0]["accuracy"], rel=1e-5)
        load_preset_file(tdir / "recipe.toml")
    with open(out / "trials.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["status"] for r in table] == ["finished"] * 3
    best_row = max(result["trials"], key=lambda r: (r["accuracy_mean"], r["accuracy_worst"]))
    assert result["best"]["trial"] == best_row["trial"]
    # the best recipe is a preset file that train --preset accepts, with the trial's values
    best = load_preset_file(out / "best.toml")
    assert result["best_preset"] == str(out / "best.toml")
    params = best_row["params"]
    assert best.model["embedding_dim"] == params["model.embedding_dim"]
    assert best.training["lr"] == pytest.approx(params["training.lr"])
    assert list(best.features.outputs) == params["features.outputs"]
    assert best.model["depth"] == 1 and best.training["epochs"] == 1       # fixed fields
    run = tmp_path / "run"
    code = main(["train", "--data", str(data_folder), "--preset", str(out / "best.toml"),
                 "--out", str(run), *TINY_FLAGS])
    assert code == 0, capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["embedding_dim"] == params["model.embedding_dim"]
    assert config["features"]["outputs"] == params["features.outputs"]
    info = read_sweep(out)
    assert info.state == "finished" and len(info.trials) == 3
    assert [s.folder for s in list_sweeps(tmp_path)] == [out]


def test_stopped_sweep_keeps_its_finished_trials(ray_2cpu, data_folder, space_file, tmp_path):
    from har_studio.data.loaders import load
    from har_studio.data.windows import WindowConfig
    from har_studio.training.engine import TrainControl

    control = TrainControl()
    folder = tmp_path / "stopped"
    gen = run_sweep(load([data_folder]), load_space(space_file), trials=8, folder=folder, k=2,
                    window=WindowConfig(32, 16), device="cpu", precision="fp32",
                    control=control)
    ended = []

    def on_item(item) -> None:
        if isinstance(item, TrialFinished):
            ended.append(item)
            control.stop()              # as Ctrl-C or the Stop button does

    result = run_to_end(gen, on_item)
    assert result.stopped and ended
    assert len(result.trials) == len(ended) < 8
    info = read_sweep(folder)
    assert info.state == "stopped" and len(info.trials) == len(ended)
    assert sorted(p.name for p in (folder / "trials").iterdir()) == \
        [f"{t.trial:04d}" for t in sorted(ended, key=lambda t: t.trial)]
    for row in result.trials:
        cv = json.loads((folder / "trials" / f"{row['trial']:04d}" / "crossval.json").read_text())
        assert cv["folds_completed"] == row["folds"] >= 1
        if row["status"] == "finished":
            assert row["folds"] == 2
    if any(r["status"] == "finished" for r in result.trials):
        load_preset_file(folder / "best.toml")


def test_without_ray_the_commands_name_the_pip_command(data_folder, space_file, tmp_path,
                                                       monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)          # import ray -> ImportError
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    code = main(["train", "--data", str(data_folder), "--cv", "2", "--parallel", *TINY_FLAGS])
    err = capsys.readouterr().err
    assert code == 1 and "pip install 'har-studio[cluster]'" in err
    assert len(err.strip().splitlines()) == 1
    code = main(["sweep", "--data", str(data_folder), "--space", str(space_file), "--trials",
                 "2", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 1 and "pip install" in err and "Traceback" not in err
    code = main(["train", "--data", str(data_folder), "--parallel", "ray", *TINY_FLAGS])
    assert code == 1 and "--cv" in capsys.readouterr().err


def test_preset_files_round_trip_and_bad_files_name_themselves(tmp_path):
    path = write_preset_file(tmp_path / "mine.toml", ROBUST, comment="from a test")
    loaded = load_preset_file(path)
    assert loaded.model == ROBUST.model and loaded.training == ROBUST.training
    assert loaded.features == ROBUST.features and loaded.name == ROBUST.name
    assert get_preset(str(path)).model == ROBUST.model
    assert preset_toml(loaded) == preset_toml(ROBUST)
    for text, needle in (('name = "x"\n[model]\nembeding_dim = 3\n', "embeding_dim"),
                         ('[training]\nlr = -1\n', "lr"),
                         ('[model\n', "line 1"),
                         ('colour = "red"\n', "colour")):
        bad = tmp_path / "bad.toml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError) as info:
            load_preset_file(bad)
        message = str(info.value)
        assert message.startswith(str(bad)) and needle in message and "\n" not in message


def test_space_files_are_checked_before_a_sweep(tmp_path):
    for text, needle in (("[model]\nembedding_dim = { choice = [] }\n", "embedding_dim"),
                         ("[training]\nlr = { loguniform = [0, 1] }\n", "training.lr"),
                         ("[training]\nepochs = { int = [2, 1] }\n", "training.epochs"),
                         ("[model]\nwidth = { choice = [1, 2] }\n", "width"),
                         ("[training]\nepochs = 3\n", "no range"),
                         ("[features]\noutputs = { choice = [[\"nope\"]] }\n", "nope")):
        path = tmp_path / "space.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError) as info:
            load_space(path)
        assert str(info.value).startswith(str(path)) and needle in str(info.value)
    path = tmp_path / "ok.toml"
    path.write_text(SPACE, encoding="utf-8")
    space = load_space(path)
    assert [p.key for p in space.params] == ["model.embedding_dim", "training.lr",
                                             "features.outputs"]
    recipe = space.recipe({"model.embedding_dim": 8, "training.lr": 2e-3,
                           "features.outputs": ["raw"]})
    assert recipe.model["embedding_dim"] == 8 and recipe.training["epochs"] == 1
