"""``make package-test``'s size check (bench/package_check.py): a bundle over the limit fails,
naming its biggest parts. Sparse files stand in for a bundle: no disk is used."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def package_check():
    spec = importlib.util.spec_from_file_location("package_check",
                                                  ROOT / "bench" / "package_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sparse(path: Path, mb: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(int(mb * 2**20))


def test_the_limit_is_700_mb(package_check, monkeypatch):
    monkeypatch.delenv("HAR_MAX_BUNDLE_MB", raising=False)
    assert package_check.MAX_BUNDLE_MB == 700.0


def test_a_bundle_over_the_limit_fails_and_names_what_is_big(package_check, tmp_path,
                                                             monkeypatch):
    monkeypatch.delenv("HAR_MAX_BUNDLE_MB", raising=False)
    bundle = tmp_path / "HARStudio"
    _sparse(bundle / "HARStudio", 20)
    _sparse(bundle / "_internal" / "torch" / "lib" / "libtorch_cpu.so", 450)
    _sparse(bundle / "_internal" / "pyarrow" / "libarrow.so", 150)
    _sparse(bundle / "_internal" / "libpython3.11.so", 10)
    assert package_check.size_failure(bundle) is None            # 630 MB
    _sparse(bundle / "_internal" / "ray" / "core.so", 80)        # 710 MB
    message = package_check.size_failure(bundle)
    assert message is not None and "710.0 MB" in message and "700 MB" in message
    assert list(package_check.biggest_parts(bundle, 3)) == ["torch", "pyarrow", "ray"]
    assert package_check.biggest_parts(bundle)["ray"] == 80.0
    monkeypatch.setenv("HAR_MAX_BUNDLE_MB", "720")
    assert package_check.size_failure(bundle) is None
    assert package_check.size_failure(bundle, limit_mb=700) is not None


def test_a_missing_bundle_fails(package_check, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["package_check.py", str(tmp_path / "nothing")])
    assert package_check.main() == 1
    assert "make package" in capsys.readouterr().out
    assert not os.listdir(tmp_path)
