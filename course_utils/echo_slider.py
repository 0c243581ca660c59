"""The explorer's weight-scale slider: a log slider that is not overwritten by the browser's echo of its value."""

from __future__ import annotations

import math
import time
from typing import Any

import ipywidgets as widgets


class ScaleSlider(widgets.FloatLogSlider):
    """A log slider that keeps values set from Python instead of the browser's rounded copy of them.

    The browser's slider snaps every value to its step (here 10**0.01) and, with continuous updates,
    sends the snapped value back. Set 0.1414 from Python and a moment later 0.1413 comes back; set
    two values in a row (Run All over cells that change the slider) and the echo of the first arrives
    after the second and overwrites it. This class recognises such echoes (within half a step of a
    value recently set from Python) and keeps the value Python chose.
    """

    ECHO_WINDOW_S = 60.0

    def __init__(self, **kwargs: Any) -> None:
        self._set_from_python: list[tuple[float, float]] = []
        self._receiving = False
        super().__init__(**kwargs)
        self.observe(self._remember, names="value")

    def _remember(self, change: dict[str, Any]) -> None:
        if not self._receiving:
            now = time.monotonic()
            self._set_from_python = [(v, t) for v, t in self._set_from_python if now - t < self.ECHO_WINDOW_S][-7:]
            self._set_from_python.append((change["new"], now))

    def _echo_of(self, value: float) -> float | None:
        """The recent Python-set value that ``value`` is the browser's snapped copy of, if any."""
        if not (isinstance(value, float | int) and value > 0):
            return None
        for i, (mine, _) in enumerate(self._set_from_python):
            if mine > 0 and abs(math.log10(value) - math.log10(mine)) <= self.step / 2 + 1e-9:
                del self._set_from_python[i]
                return mine
        return None

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the browser, ignoring snapped echoes of values set from Python."""
        echo = self._echo_of(sync_data["value"]) if "value" in sync_data else None
        if echo is not None:
            # Drop the echo (no echo_update either: the browser would apply it and snap it again).
            super().set_state({k: v for k, v in sync_data.items() if k != "value"})
            if echo != self.value:  # the browser shows an older value: send it the current one
                self.send_state("value")
            return
        self._receiving = True
        try:
            super().set_state(sync_data)
        finally:
            self._receiving = False
