"""Shared test setup: no display, a throw-away user data folder, small thread counts."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


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
