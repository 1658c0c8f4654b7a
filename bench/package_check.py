"""Check a built HARStudio bundle: size, start time, and the frozen app's own self-test.

Usage: python bench/package_check.py dist/HARStudio
Fails when the bundle is over MAX_BUNDLE_MB (`HAR_MAX_BUNDLE_MB` overrides; the JSON lists its
biggest folders then, to say what grew). Runs `HARStudio --smoke-test` and
`HARStudio --self-test` offscreen, then (when Xvfb is installed)
`--self-test --screenshot FILE` on a real X server and checks the screenshot is not blank.
Prints one JSON object; exits 1 if any step failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The onedir bundle on Linux was 679 MB until the cluster extra (which `make test` installs)
# brought pyarrow and SQLAlchemy into the environment and the bundle (868-877 MB); with
# build.spec's excludes it is 674 MB. Over this, something the app never loads is shipped.
MAX_BUNDLE_MB = 700.0


def folder_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def biggest_parts(bundle: Path, count: int = 12) -> dict[str, float]:
    """The `count` biggest top-level entries of the bundle's ``_internal`` folder (or of the
    bundle itself), in MB, biggest first: what to look at when the size check fails."""
    root = bundle / "_internal" if (bundle / "_internal").is_dir() else bundle
    sizes = {p.name: (folder_size_mb(p) if p.is_dir() else p.stat().st_size / 2**20)
             for p in root.iterdir() if not p.is_symlink()}
    top = sorted(sizes.items(), key=lambda item: -item[1])[:count]
    return {name: round(mb, 1) for name, mb in top}


def size_failure(bundle: Path, limit_mb: float | None = None) -> str | None:
    """None when the bundle is at most `limit_mb` (default: ``HAR_MAX_BUNDLE_MB`` or
    MAX_BUNDLE_MB), else one line saying by how much it is over."""
    if limit_mb is None:
        limit_mb = float(os.environ.get("HAR_MAX_BUNDLE_MB", MAX_BUNDLE_MB))
    size = folder_size_mb(bundle)
    if size <= limit_mb:
        return None
    return (f"the bundle is {size:.1f} MB, over the {limit_mb:.0f} MB limit: see biggest_mb "
            f"for what grew, and build.spec's excludes")


def run(cmd: list[str], env: dict, timeout: float) -> tuple[int, dict | None, str]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    last = None
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                last = json.loads(line)
            except json.JSONDecodeError:
                pass
    return proc.returncode, last, (proc.stderr or "")[-2000:]


def screenshot_ok(png: Path) -> bool:
    """Non-empty: the file exists and its pixels are not all one colour."""
    if not png.is_file() or png.stat().st_size == 0:
        return False
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    if img.isNull() or img.width() < 100 or img.height() < 100:
        return False
    colours = {img.pixel(x, y) for x in range(0, img.width(), max(1, img.width() // 40))
               for y in range(0, img.height(), max(1, img.height() // 40))}
    return len(colours) > 10


def main() -> int:
    bundle = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/HARStudio")
    exe = bundle / ("HARStudio.exe" if os.name == "nt" else "HARStudio")
    out: dict = {"bundle": str(bundle), "ok": False}
    if not exe.exists():
        out["error"] = f"{exe} not found: run `make package` first"
        print(json.dumps(out))
        return 1
    out["bundle_mb"] = round(folder_size_mb(bundle), 1)
    home = Path(tempfile.mkdtemp(prefix="harstudio-pkg-"))
    env = dict(os.environ, HAR_STUDIO_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    failures = []
    too_big = size_failure(bundle)
    if too_big:
        failures.append(too_big)
        out["biggest_mb"] = biggest_parts(bundle)

    rc, smoke, err = run([str(exe), "--smoke-test"], env, 120)
    out["smoke_test"] = {"rc": rc, **(smoke or {})}
    if rc != 0:
        failures.append(f"--smoke-test exited {rc}: {err.strip().splitlines()[-1:] }")

    def snapshot() -> list[tuple[str, int, int]]:   # what the user's folder holds
        return sorted((str(p.relative_to(home)), p.stat().st_size, p.stat().st_mtime_ns)
                      for p in home.rglob("*") if p.is_file())

    before = snapshot()
    rc, selftest, err = run([str(exe), "--self-test"], env, 600)
    out["self_test_offscreen"] = {"rc": rc, **(selftest or {})}
    if rc != 0:
        failures.append(f"--self-test exited {rc}: {err.strip().splitlines()[-1:]}")
    changed = sorted({name for name, *_ in set(snapshot()) ^ set(before)})
    out["self_test_home_untouched"] = not changed
    if changed:   # a run, a setting or a log line of the self-test in the user's folder
        failures.append(f"--self-test wrote into HAR_STUDIO_HOME: {', '.join(changed[:5])}")

    xvfb = shutil.which("xvfb-run")
    if xvfb:
        png = home / "screen.png"
        xenv = dict(env)
        xenv.pop("QT_QPA_PLATFORM")
        rc, xres, err = run([xvfb, "-a", "-s", "-screen 0 1400x900x24", str(exe), "--self-test",
                             "--screenshot", str(png)], xenv, 600)
        ok = rc == 0 and screenshot_ok(png)
        out["self_test_xvfb"] = {"rc": rc, "screenshot_ok": ok, **(xres or {})}
        if not ok:
            failures.append(f"--self-test under Xvfb: rc {rc}, screenshot ok {ok}: "
                            f"{err.strip().splitlines()[-1:]}")
    else:
        out["self_test_xvfb"] = "skipped: xvfb-run not installed"

    out["ok"] = not failures
    if failures:
        out["failures"] = failures
    print(json.dumps(out))
    shutil.rmtree(home, ignore_errors=True)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
