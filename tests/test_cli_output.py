"""What the command line prints: a one-line description of every subcommand in
``har-studio --help``, ``evaluate``'s per-class table under headings, ``evaluate --activities``
(a subset of the model's activities), and ``calibrate``'s result said once."""

from __future__ import annotations

import json

import pytest

from har_studio import cli
from har_studio.cli import run_cli
from har_studio.data.demo import demo_dataset, write_demo_files
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.model.io import save_model
from har_studio.training import default_model_config, prepare_data, run_to_end, train
from har_studio.training.config import TrainConfig

ACTS = ("walking", "jogging", "sitting", "standing")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A tiny model trained one epoch on demo subjects 1-3, saved to a file."""
    dataset = demo_dataset(subjects=3, seconds_per_activity=12.0, activities=ACTS)
    prepared = prepare_data(dataset, WindowConfig(size=32, step=16),
                            SplitConfig(test_fraction=0.0, val_fraction=0.0))
    config = default_model_config(prepared, embedding_dim=16, head_width=32, depth=1,
                                  head_num=2, att_size=8)
    result = run_to_end(train(prepared, config, TrainConfig(
        epochs=1, batch_size=32, device="cpu", precision="fp32", patience=0, keep_best=False)))
    path = tmp_path_factory.mktemp("model") / "tiny.harmodel"
    save_model(path, result.bundle)
    return path


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wisdm")
    write_demo_files(folder, subjects=2, seconds_per_activity=8.0, activities=ACTS, seed=4)
    return folder


def test_help_describes_every_subcommand_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")   # a terminal's usual width: each fits on its line
    with pytest.raises(SystemExit):
        run_cli(["--help"])
    text = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        line = next(line for line in text.splitlines() if line.split()[:1] == [name])
        assert line.split(maxsplit=1)[1:] == [cli.SUBCOMMAND_HELP[name]], line
    assert "sweep" in cli.SUBCOMMAND_HELP and "calibrate" in cli.SUBCOMMAND_HELP


def test_top_level_help_is_what_each_subcommand_registers():
    """The listing (no subcommand imported) says what each module's own parser says."""
    parser = cli.build_parser("*")
    sub = next(a for a in parser._actions if a.dest == "command")
    registered = {action.dest: action.help for action in sub._choices_actions}
    assert registered == cli.SUBCOMMAND_HELP


def test_evaluate_table_has_headings(model_file, data_folder, capsys):
    assert run_cli(["evaluate", "--model", str(model_file), "--data", str(data_folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[1:3] == ["windows:", "accuracy"]
    assert "predicted as" in lines[1]
    heading = lines[2].split()
    assert heading[:3] == ["true", "activity", "accuracy"] and heading[3:] == list(ACTS)
    rows = lines[3:]
    assert [row.split()[0] for row in rows] == list(ACTS)
    for row in rows:    # each count sits right-aligned under its activity's heading
        for name, value in zip(ACTS, row.split()[2:], strict=True):
            end = lines[2].index(name) + len(name)
            assert row[end - len(value):end] == value


def test_evaluate_scores_a_subset_of_activities(model_file, data_folder, capsys):
    code = run_cli(["evaluate", "--model", str(model_file), "--data", str(data_folder),
                    "--activities", "jogging,D", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    ev = json.loads(captured.out)
    assert ev["activities"] == ["jogging", "sitting"] and ev["labels"] == list(ACTS)
    confusion = dict(zip(ev["labels"], ev["confusion"], strict=True))
    assert sum(confusion["walking"]) == sum(confusion["standing"]) == 0
    assert sum(confusion["jogging"]) > 0 and sum(confusion["sitting"]) > 0
    assert ev["per_class"]["walking"] is None
    assert "scoring jogging, sitting only" in captured.err and "walking" in captured.err

    assert run_cli(["evaluate", "--model", str(model_file), "--data", str(data_folder),
                    "--activities", "jogging"]) == 0
    rows = capsys.readouterr().out.splitlines()[3:]
    assert [row.split()[0] for row in rows] == ["jogging"]


def test_evaluate_activity_the_model_does_not_know_is_one_line(model_file, data_folder,
                                                               capsys):
    code = run_cli(["evaluate", "--model", str(model_file), "--data", str(data_folder),
                    "--activities", "walking,typing"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "typing" in err and "walking, jogging, sitting, standing" in err


def test_calibrate_says_its_result_once(model_file, tmp_path, capsys):
    files = write_demo_files(tmp_path / "person", subjects=1, seconds_per_activity=12.0,
                             activities=ACTS, seed=5)
    out = tmp_path / "me.harmodel"
    code = run_cli(["calibrate", "--model", str(model_file), "--data", *map(str, files),
                    "--out", str(out), "--seconds", "6", "--epochs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    both = (captured.out + captured.err).lower()
    assert both.count("held-back accuracy") == 1 and both.count("before") == 1
    result = [line for line in captured.out.splitlines() if "held-back accuracy" in line]
    assert len(result) == 1 and "%" in result[0] and "windows" in result[0]
    assert captured.out.splitlines()[-1] == f"wrote {out}" and out.is_file()
