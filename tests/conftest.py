"""Shared test setup: no display, a throw-away user data folder, small thread counts."""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

# Hypothesis writes nothing into the repository: no example database (a failing example is
# still printed, only not replayed from a saved database on the next run), and its caches go
# to a temporary folder (see pytest_configure).
hypothesis_settings.register_profile("har-studio", database=None)
hypothesis_settings.load_profile("har-studio")


@pytest.fixture(autouse=True)
def _isolated_user_folder(tmp_path_factory, monkeypatch):
    """Runs, logs and settings of every test go to a temporary folder, never the user's."""
    home = tmp_path_factory.mktemp("har_home")
    monkeypatch.setenv("HAR_STUDIO_HOME", str(home))
    yield home


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny test models gain nothing from more threads, and OpenMP threads that spin while a
    Qt worker and the GUI thread share 2 cores can slow a step a hundredfold. Restored after
    each test, so one that changes it (``model --threads``) cannot slow the rest."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def started():
    """Start live sources for a test; every one started is stopped at the end."""
    sources = []

    def start(source):
        source.start()
        sources.append(source)
        return source

    yield start
    for source in sources:
        source.stop()


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)   # also for module-scoped fixtures, set up before the above
    config._har_hypothesis_home = tempfile.mkdtemp(prefix="har-hypothesis-")
    set_hypothesis_home_dir(config._har_hypothesis_home)


def pytest_unconfigure(config):
    home = getattr(config, "_har_hypothesis_home", None)
    if home:
        shutil.rmtree(home, ignore_errors=True)
