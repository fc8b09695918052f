"""Shared fixtures: names that are unique per pytest-xdist worker and per test."""

from __future__ import annotations

import itertools
import os

import pytest

#: The per-worker devnet fixtures (``devnet``, ``net``), shared by every test directory.
pytest_plugins = ["tests.devnet_fixtures"]

_counter = itertools.count()


def worker_tag() -> str:
    """A short tag naming this xdist worker and process (``gw0-1a2b``)."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid():x}"


@pytest.fixture
def unique_name() -> str:
    """A name unique to this test in this worker: safe for shm segments, ipc paths, chains."""
    return f"ap{worker_tag().replace('-', '')}{next(_counter)}"
