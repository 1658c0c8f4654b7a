"""``har-studio inspect`` imports pandas without pyarrow (start-up): same reports as a process
where pandas has pyarrow, and pyarrow stays importable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import wisdm_files as W

from har_studio import cli
from har_studio.__main__ import main


def fresh_inspect(*paths) -> tuple[dict, dict]:
    """The JSON report of ``inspect`` in a new process, and what that process imported."""
    code = (
        "import contextlib, io, json, sys\n"
        "from har_studio.__main__ import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    code = main(['inspect', '--json', *{[str(p) for p in paths]!r}])\n"
        "from pandas.compat import pyarrow as pa_compat\n"
        "seen = {'code': code, 'pyarrow_loaded': 'pyarrow' in sys.modules,\n"
        "        'pandas_has_pyarrow': pa_compat.HAS_PYARROW}\n"
        "try:\n"
        "    import pyarrow  # noqa: F401\n"
        "    seen['importable'] = True\n"
        "except ImportError:\n"
        "    seen['importable'] = False\n"
        "print(buf.getvalue().strip())\n"
        "print(json.dumps(seen))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report, seen = out.stdout.strip().splitlines()[-2:]
    return json.loads(report), json.loads(seen)


def in_process(capsys, monkeypatch, *paths) -> dict:
    monkeypatch.setattr(cli, "SUBCOMMANDS", {"inspect": "har_studio.data.commands"})
    assert main(["inspect", "--json", *map(str, paths)]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("kind", ["v11", "csv"])
def test_inspect_without_pyarrow_gives_the_same_report(tmp_path, capsys, monkeypatch, kind):
    if kind == "v11":
        path = W.write_v11_raw(tmp_path / "WISDM_ar_v1.1_raw.txt").path
    else:   # text columns: subject ids written as text, ISO dates, activity names
        path = tmp_path / "export.csv"
        rows = [f"u{s},Walking,2024-05-01T10:00:{k // 20:02d}.{(k % 20) * 5:02d}0Z,1.0,9.8,0.{k}"
                for s in (7, 9) for k in range(40)]
        rows[5] = rows[5].replace("1.0,", "one,", 1)
        path.write_text("participant,activity,time,ax,ay,az\n" + "\n".join(rows) + "\n")
    fresh, seen = fresh_inspect(path)
    assert seen["code"] == 0
    assert not seen["pyarrow_loaded"] and not seen["pandas_has_pyarrow"]
    assert seen["importable"] == _have_pyarrow()
    assert fresh == in_process(capsys, monkeypatch, path)
    assert fresh["records"] > 0 and (kind == "v11" or fresh["skipped"] == {"not a number": 1})


def test_a_process_with_pandas_loaded_is_left_as_it_is():
    import pandas  # noqa: F401

    before = sys.modules.get("pyarrow")
    cli.import_pandas_without_pyarrow()
    assert sys.modules.get("pyarrow") is before


def test_a_command_line_inspect_exits_cleanly_and_frees_the_collector_only_then(tmp_path):
    """``python -m har_studio inspect`` (the process's own command line) prints the report and
    exits 0 with pandas' import run without collections and the objects frozen before exit;
    the same command run in a process that goes on (the app, tests) leaves the collector as
    it was."""
    path = W.write_v11_raw(tmp_path / "WISDM_ar_v1.1_raw.txt").path
    code = (
        "import atexit, contextlib, gc, io, json, sys\n"
        "from har_studio import __main__ as entry\n"
        "seen = {}\n"
        "atexit.register(lambda: sys.stderr.write(json.dumps(seen) + '\\n'))\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    entry.main(['inspect', '--json', {str(path)!r}])\n"
        "seen.update(after_call=gc.get_freeze_count(), enabled=gc.isenabled(),\n"
        "            call=json.loads(buf.getvalue()))\n"
        f"sys.argv = ['har-studio', 'inspect', '--json', {str(path)!r}]\n"
        "with contextlib.redirect_stdout(buf := io.StringIO()):\n"
        "    status = entry.main()\n"
        "seen.update(status=status, frozen=gc.get_freeze_count() > 0,\n"
        "            command_line=json.loads(buf.getvalue()))\n"
        "sys.exit(status)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stderr.strip().splitlines()[-1])
    assert seen["after_call"] == 0 and seen["enabled"]
    assert seen["status"] == 0 and seen["frozen"]
    assert seen["command_line"] == seen["call"] and seen["call"]["records"] > 0


def test_loading_imports_no_windowing_and_the_package_still_offers_it():
    code = ("import sys\n"
            "from har_studio.data import loaders\n"
            "print(sorted(m for m in sys.modules if m.startswith('har_studio.data.')))\n"
            "from har_studio.data import SplitConfig, make_windows\n"
            "import har_studio.data as data\n"
            "print(make_windows.__module__, SplitConfig.__module__, 'Windows' in dir(data))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, offered = out.stdout.strip().splitlines()
    assert "splits" not in loaded and "windows" not in loaded and "formats" in loaded
    assert offered == "har_studio.data.windows har_studio.data.splits True"
