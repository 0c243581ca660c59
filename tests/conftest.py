"""Shared fixtures: every device this machine has, and seeded random tensors."""

import pytest
import torch

# One torch thread per test process, as in the notebooks: `make test` runs several processes side by side on
# a machine with few cores, and each taking every core would make them all wait on each other.
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each available device in turn (CUDA only where a GPU exists; CPU always)."""
    return request.param


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def fresh_session():
    """Every test starts as a new notebook session: no failed exercise tries remembered."""
    from course_utils.exercises import core

    core.failed_tries.clear()
    yield
    core.failed_tries.clear()
