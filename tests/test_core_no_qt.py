"""The core (data, model, training, live) and the CLI never import Qt or pyqtgraph.

Checked in a fresh interpreter so that Qt modules imported by other tests do not hide a leak.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

CORE_PACKAGES = ["har_studio.data", "har_studio.model", "har_studio.training", "har_studio.live"]
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "PyQt5", "PyQt6")


def _submodules(package: str) -> list[str]:
    """The package and every module file directly in it (subpackages included by name)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    names = [package]
    for location in spec.submodule_search_locations:
        import pkgutil

        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules([location])]
    return names


def _modules_to_check() -> list[str]:
    modules = ["har_studio", "har_studio.cli", "har_studio.paths", "har_studio.atomic"]
    for package in CORE_PACKAGES:
        modules += _submodules(package)
    return modules


def test_data_package_is_found():
    assert "har_studio.data.windows" in _modules_to_check()
    assert "har_studio.data.demo" in _modules_to_check()


def test_core_imports_no_qt():
    modules = _modules_to_check()
    code = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = repr(exc)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps({'bad': bad, 'failed': failed}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bad"] == [], f"core modules pulled in Qt: {result['bad']}"
    required = [m for m in modules if m.startswith(("har_studio.data", "har_studio.cli"))
                or m in ("har_studio", "har_studio.paths", "har_studio.atomic")]
    assert not {m: result["failed"][m] for m in required if m in result["failed"]}
    # Other areas are checked by their own tests; here only a Qt-related failure counts.
    qt_failures = {k: v for k, v in result["failed"].items()
                   if any(q in v for q in FORBIDDEN)}
    assert not qt_failures, qt_failures


@pytest.mark.parametrize("forbidden", ["PySide6", "pyqtgraph"])
def test_core_imports_with_qt_blocked(forbidden):
    """Importing data + CLI works even where the Qt packages are missing entirely."""
    code = (
        "import sys\n"
        f"sys.modules[{forbidden!r}] = None  # makes 'import {forbidden}' fail\n"
        "import har_studio.data, har_studio.data.demo, har_studio.cli\n"
        "har_studio.data.demo.demo_frame(subjects=1, seconds_per_activity=2)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
