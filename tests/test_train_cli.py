"""``har-studio train`` and ``har-studio evaluate`` end to end on generated WISDM files."""

from __future__ import annotations

import argparse
import importlib.util
import json

import pytest

from har_studio import cli
from har_studio.data.demo import write_demo_files
from har_studio.training import commands
from har_studio.training.runs import list_runs

TINY_FLAGS = ["--window", "32", "--step", "16", "--embedding", "16", "--head-width", "32",
              "--blocks", "2", "--heads", "2", "--att-size", "8", "--batch-size", "32",
              "--device", "cpu", "--precision", "fp32"]


def main(argv: list[str]) -> int:
    """The training subcommands exactly as ``har-studio`` runs them (parser + handler), without
    depending on the other areas' subcommands."""
    parser = argparse.ArgumentParser(prog="har-studio")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)



@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wisdm")
    write_demo_files(folder, subjects=4, seconds_per_activity=10.0,
                     activities=("walking", "jogging", "sitting", "standing"))
    return folder


def _data_lines(folder) -> list[str]:
    """The records of the generated WISDM file(s) in `folder`."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return [line for p in files for line in p.read_text(encoding="utf-8").splitlines() if line]


def _json_line(text: str) -> dict:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return json.loads(lines[0])


def test_train_then_evaluate(data_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", str(data_folder), "--epochs", "2", "--activities",
                 "walking,B,sitting,Standing", "--test-subjects", "1", "--val-subjects", "2",
                 "--out", str(out), "--json", *TINY_FLAGS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = _json_line(captured.out)
    assert result["stopped_reason"] in ("completed", "early_stopping")
    assert result["device"] == "cpu" and result["run_dir"] == str(out)
    assert result["metrics"]["labels"] == ["walking", "jogging", "sitting", "standing"]
    assert 0 <= result["metrics"]["accuracy"] <= 1
    assert captured.err.count("epoch 1/2") == 1 and "epoch 2/2" in captured.err
    model = out / "model.harmodel"
    assert result["model"] == str(model) and model.is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["split"]["test_subjects"] == [1] and config["split"]["val_subjects"] == [2]

    code = main(["evaluate", "--model", str(model), "--data", str(data_folder), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    ev = _json_line(captured.out)
    assert ev["labels"] == ["walking", "jogging", "sitting", "standing"]
    assert ev["windows"] == sum(map(sum, ev["confusion"])) > 0
    assert set(ev["per_class"]) == set(ev["labels"]) and 0 <= ev["accuracy"] <= 1
    assert ev["unknown_activities"] == {}

    # The same model on the same windows (the test person's records alone) gives exactly the
    # figures the training reported for its test set.
    test_only = tmp_path / "subject1" / "wisdm.txt"
    test_only.parent.mkdir()
    records = [line for line in _data_lines(data_folder) if line.startswith("1,")]
    test_only.write_text("\n".join(records) + "\n", encoding="utf-8")
    assert main(["evaluate", "--model", str(model), "--data", str(test_only), "--json"]) == 0
    ev = _json_line(capsys.readouterr().out)
    trained = result["metrics"]
    assert ev["windows"] == trained["windows"] > 0 and ev["confusion"] == trained["confusion"]
    for name in ("accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted"):
        assert ev[name] == pytest.approx(trained[name], abs=1e-6), name
    assert ev["per_class"] == pytest.approx(trained["per_class"], abs=1e-6)

    # human-readable output too
    assert main(["evaluate", "--model", str(model), "--data", str(data_folder)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_evaluate_reports_activities_the_model_does_not_know(tmp_path, capsys):
    train_data = tmp_path / "two"
    write_demo_files(train_data, subjects=3, seconds_per_activity=6.0,
                     activities=("walking", "sitting"))
    more_data = tmp_path / "three"
    write_demo_files(more_data, subjects=2, seconds_per_activity=6.0,
                     activities=("walking", "sitting", "jogging"))
    out = tmp_path / "run"
    assert main(["train", "--data", str(train_data), "--epochs", "1", "--out", str(out),
                 *TINY_FLAGS]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out / "model.harmodel"), "--data", str(more_data),
                 "--json"]) == 0
    captured = capsys.readouterr()
    ev = _json_line(captured.out)
    assert ev["labels"] == ["walking", "sitting"]
    assert ev["unknown_activities"] == {"jogging": 2 * 120}
    assert "jogging" in captured.err


def test_random_split_warns_and_default_run_folder(data_folder, capsys):
    code = main(["train", "--data", str(data_folder), "--epochs", "1", "--split", "random",
                 "--activities", "A,D", *TINY_FLAGS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Random window split" in captured.err
    assert captured.err.count("Random window split") == 1
    assert captured.out == ""  # no --json: nothing on stdout
    runs = list_runs()
    assert len(runs) == 1 and runs[0].model_path is not None
    assert runs[0].activities == ["walking", "sitting"]


def test_bad_inputs_give_one_line_errors(data_folder, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.harmodel"
    corrupt.write_bytes(b"\x00" * 40 + b"not a model")
    cases = [
        ["evaluate", "--model", str(corrupt), "--data", str(data_folder)],
        ["evaluate", "--model", str(tmp_path / "missing.harmodel"), "--data", str(data_folder)],
        ["train", "--data", str(tmp_path / "nothing-here"), "--epochs", "1", *TINY_FLAGS],
        ["train", "--data", str(data_folder), "--activities", "walking,flying", *TINY_FLAGS],
        ["train", "--data", str(data_folder), "--test-subjects", "1,x", *TINY_FLAGS],
        ["train", "--data", str(data_folder), "--test-subjects", "99", *TINY_FLAGS],
        ["train", "--data", str(data_folder), "--epochs", "0", *TINY_FLAGS],
    ]
    for argv in cases:
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 1, argv
        lines = captured.err.strip().splitlines()
        assert lines and lines[-1].startswith("har-studio: error:"), (argv, captured.err)
        assert "Traceback" not in captured.err and captured.out == ""
    assert list_runs() == []  # a failed start leaves no run folder behind


def test_through_the_real_entry_point(data_folder, tmp_path, capsys):
    missing = [m for m in set(cli.SUBCOMMANDS.values()) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"subcommand modules not written yet: {', '.join(sorted(missing))}")
    from har_studio.__main__ import main as real_main

    out = tmp_path / "run"
    assert real_main(["train", "--data", str(data_folder), "--epochs", "1", "--out", str(out),
                      "--json", *TINY_FLAGS]) == 0
    result = _json_line(capsys.readouterr().out)
    assert real_main(["evaluate", "--model", result["model"], "--data", str(data_folder),
                      "--json"]) == 0
    assert _json_line(capsys.readouterr().out)["windows"] > 0


def test_train_cv_reports_every_subject_once(data_folder, tmp_path, capsys):
    out = tmp_path / "cv"
    code = main(["train", "--data", str(data_folder), "--cv", "2", "--epochs", "1",
                 "--out", str(out), "--json", *TINY_FLAGS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = _json_line(captured.out)
    assert result["k"] == 2 and result["folds_completed"] == 2
    tested = [s for fold in result["folds"] for s in fold["test_subjects"]]
    assert len(tested) == 4 and sorted(tested) == sorted(map(int, result["per_subject"]))
    accs = [fold["accuracy"] for fold in result["folds"]]
    assert result["accuracy"]["mean"] == pytest.approx(sum(accs) / 2)
    assert "fold 2/2" in captured.err and "2-fold leave-subjects-out" in captured.err
    assert json.loads((out / "crossval.json").read_text())["k"] == 2


def test_train_preset_reference_reads_the_raw_channels(data_folder, tmp_path, capsys):
    out = tmp_path / "ref"
    assert main(["train", "--data", str(data_folder), "--epochs", "1", "--preset", "reference",
                 "--out", str(out), *TINY_FLAGS]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["features"] == {"outputs": ["raw"], "lowpass_s": 1.0, "per_window": "none"}
    assert config["model"]["modal"] == 3 and config["model"]["embedding_dim"] == 16
    capsys.readouterr()
    assert main(["train", "--data", str(data_folder), "--preset", "magic", *TINY_FLAGS]) == 1
    assert "unknown preset" in capsys.readouterr().err


def test_continuing_a_model_keeps_its_input_features(data_folder, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "--data", str(data_folder), "--epochs", "1", "--preset", "robust",
                 "--out", str(first), *TINY_FLAGS]) == 0
    features = json.loads((first / "config.json").read_text())["features"]
    assert features["outputs"] != ["raw"]
    # the reference preset reads raw channels, but the continued model keeps its own inputs
    assert main(["train", "--data", str(data_folder), "--epochs", "1", "--preset", "reference",
                 "--init-model", str(first / "model.harmodel"), "--out", str(second),
                 *TINY_FLAGS]) == 0, capsys.readouterr().err
    assert json.loads((second / "config.json").read_text())["features"] == features
