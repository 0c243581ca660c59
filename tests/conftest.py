"""Shared fixtures: every device this machine has, seeded random tensors, and the explorer's stats worker."""

import os

import pytest
import torch

from course_utils import stats_worker

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each available device in turn (CUDA only where a GPU exists; CPU always)."""
    return request.param


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def worker() -> stats_worker.StatsWorker:
    """The explorer's stats worker, started and ready; skip where it cannot start, except in CI (an error there)."""
    live = stats_worker.start()
    if live is None:
        reason = "the stats worker cannot start here (fewer than two cores, not Linux, or COURSE_UTILS_STATS_WORKER=0)"
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must test the stats worker, but {reason}")
        pytest.skip(reason)
    assert live.wait_ready(120), "the stats worker did not get ready"
    return live
