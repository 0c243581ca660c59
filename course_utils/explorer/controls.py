"""The explorer's machinery for controls: a log slider on a fixed grid, and long work that leaves the kernel free.

``ScaleSlider`` keeps every value on the grid the browser's slider moves on (10**(k * step)), so the
value Python holds and the one the browser shows are the same grid point: the browser's copy of a preset
changes nothing, and a step back onto a preset is a real change. ``SlicedTask`` runs
a training in short slices on the kernel's event loop, so a slider move between two slices is seen.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from traitlets import Float, validate


class ScaleSlider(widgets.FloatLogSlider):
    """A base-10 log slider whose values are snapped to its grid and clamped to its range (``clamped`` says so).

    The browser sends back every value the kernel sets, recomputed with its own ``Math.pow``, so the
    last bits may differ. On the grid that copy lands on the same point, and a copy of a value set
    from Python is dropped (once) while the browser has sent nothing of its own since: otherwise a
    late copy of a preset would undo the value set after it (Run All over two cells that set the scale).
    """

    clamped = Float(None, allow_none=True, help="the last value asked for outside the range (None once inside)")

    def __init__(self, **kwargs: Any) -> None:
        self._from_python: list[int] = []  # grid points set from Python whose copy the browser may still send
        self._receiving = False
        super().__init__(**kwargs)
        self.observe(self._remember, names="value")

    def grid_index(self, value: float) -> int:
        """The number of steps from 1 to the grid point nearest ``value``, inside the slider's range."""
        low, high = round(self.min / self.step), round(self.max / self.step)
        return min(max(round(math.log10(value) / self.step), low), high) if value > 0 else low

    def on_grid(self, value: float) -> float:
        """The grid point nearest to ``value`` (in log10), inside the slider's range."""
        return 10 ** (self.grid_index(value) * self.step)

    @validate("value")
    def _validate_value(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if math.isnan(value):
            raise ValueError("the weight scale must be a number, got nan")
        inside = 10**self.min * (1 - 1e-9) <= value <= 10**self.max * (1 + 1e-9)
        self.clamped = None if inside else value
        return self.on_grid(value)

    def _remember(self, change: dict[str, Any]) -> None:
        if not self._receiving:
            self._from_python = [*self._from_python[-7:], self.grid_index(change["new"])]

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the browser; its copy of a value set from Python changes nothing."""
        if "value" in sync_data and isinstance(sync_data["value"], float | int) and sync_data["value"] > 0:
            point = self.grid_index(sync_data["value"])
            if point in self._from_python:
                self._from_python.remove(point)
                super().set_state({k: v for k, v in sync_data.items() if k != "value"})
                if point != self.grid_index(self.value):  # the browser shows an older value: send the current one
                    self.send_state("value")
                return
            self._from_python = []  # the browser's own move: every copy it owed has arrived or never will
        self._receiving = True
        try:
            super().set_state(sync_data)
        finally:
            self._receiving = False


class SlicedTask:
    """Call ``step()`` until it returns False, in slices of about ``slice_s`` seconds; ``cancel()`` stops it.

    Between two slices the kernel handles whatever arrived (a slider move, a button click). Outside a
    running event loop (a script, a test, a cell that calls it directly) the steps run one after another.
    """

    def __init__(self, step: Callable[[], bool], done: Callable[[bool], None], slice_s: float = 0.1) -> None:
        self.step, self.done, self.slice_s = step, done, slice_s
        self.running = False

    def start(self) -> None:
        """Begin: on the running event loop if there is one, otherwise to the end right here."""
        self.running = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            while self.running and self.step():
                pass
            self._finish(finished=self.running)
            return
        loop.call_soon(self._slice, loop)

    def cancel(self) -> None:
        """Stop before the next step; ``done(False)`` is called."""
        if self.running:
            self._finish(finished=False)

    def _slice(self, loop: asyncio.AbstractEventLoop) -> None:
        end = time.perf_counter() + self.slice_s
        while self.running and time.perf_counter() < end:
            if not self.step():
                self._finish(finished=True)
                return
        if self.running:
            # A short pause, not call_soon: it lets the loop poll for incoming messages first.
            loop.call_later(0.005, self._slice, loop)

    def _finish(self, finished: bool) -> None:
        self.running = False
        self.done(finished)
