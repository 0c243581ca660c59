"""Long work in a Jupyter kernel without freezing it: run a step function in short slices on the event loop.

Between two slices the kernel handles whatever arrived (a slider move, a button click), so controls
stay live and can cancel the work. Outside a running event loop (a plain script, a test, a cell that
calls it directly) the steps simply run one after another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class SlicedTask:
    """Call ``step()`` until it returns False, in slices of about ``slice_s`` seconds; ``cancel()`` stops it."""

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
