"""Make notebook outputs identical from run to run and machine to machine."""

from __future__ import annotations

import torch


def reproducible(seed: int = 0) -> None:
    """Seed torch's global generator and use one CPU thread, so printed digits never depend on the machine.

    Matrix products split their sums across threads; with a different thread count the float32 rounding
    differs, and after 50 layers the printed digits do too.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    torch.manual_seed(seed)
    torch.set_num_threads(1)
