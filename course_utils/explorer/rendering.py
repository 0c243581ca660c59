"""Fast redraws of a matplotlib figure for a widget: cached backgrounds, blitted artists, quick PNG encoding.

A full ``canvas.draw()`` of a figure with axes, ticks and text costs tens of milliseconds; painting a
few lines and images over a saved copy of everything else costs a few. ``BlitRenderer`` keeps one
saved background per ``key`` (the caller's description of everything static: limits, titles,
pinned curves), so going back to a state seen before never redraws the axes.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image


def fixed_palette(colors: Sequence[str], shades: int = 8) -> Image.Image:
    """A PNG palette holding each colour blended with white in ``shades`` steps (antialiased edges need them)."""
    entries = [(255, 255, 255)]
    for color in colors:
        rgb = [int(round(255 * v)) for v in to_rgb(color)]
        for k in range(1, shades + 1):
            entries.append(tuple(round(255 + (v - 255) * k / shades) for v in rgb))
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for entry in entries for v in entry])
    return palette


def encode_png(canvas: FigureCanvasAgg, palette: Image.Image | None = None) -> bytes:
    """The canvas as PNG bytes, quickly compressed; mapping onto a known ``palette`` is far quicker than finding one."""
    image = Image.frombytes("RGB", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBX")
    if palette is None:
        image = image.quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    else:
        image = image.quantize(palette=palette, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    # zlib's run-length strategy (compress_type 3): a plot is mostly runs of one colour, so the file is as
    # small as with the default strategy and is written in two thirds of the time.
    image.save(buffer, format="png", compress_level=1, compress_type=3)
    return buffer.getvalue()


def stack_pngs(canvases: Sequence[FigureCanvasAgg]) -> bytes:
    """Several canvases one below the other as one PNG (the static picture of a widget with several plots)."""
    images = [Image.frombuffer("RGBA", c.get_width_height(), c.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
              for c in canvases]
    page = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    top = 0
    for image in images:
        page.paste(image, (0, top))
        top += image.height
    buffer = io.BytesIO()
    page.save(buffer, format="png")
    return buffer.getvalue()


def paint_grid(canvas: FigureCanvasAgg, ax: Axes, rgb: np.ndarray) -> None:
    """Fill the inside of ``ax`` with a (rows, cols, 3) grid of colour cells, straight into the canvas's pixels.

    What ``imshow`` with nearest interpolation shows, for a fraction of its cost. Row 0 is at the top.
    """
    pixels = np.asarray(canvas.buffer_rgba())
    x0, y0, x1, y1 = ax.bbox.extents
    height = pixels.shape[0]
    left, right = round(x0) + 1, round(x1)  # inside the frame, so the spines stay
    top, bottom = height - round(y1) + 1, height - round(y0)
    cells = Image.fromarray(np.ascontiguousarray(rgb)).convert("RGBA")
    pixels[top:bottom, left:right] = np.asarray(cells.resize((right - left, bottom - top), Image.Resampling.NEAREST))


class BlitRenderer:
    """Draws ``fig``: static parts once per key (cached), then the ``dynamic`` artists over them."""

    def __init__(self, fig: Figure, dynamic: Sequence[Artist], palette: Image.Image, cache_size: int = 6) -> None:
        self.fig, self.dynamic, self.palette = fig, list(dynamic), palette
        self.canvas = FigureCanvasAgg(fig)
        self.cache_size = cache_size
        self._backgrounds: OrderedDict[Hashable, Any] = OrderedDict()
        for artist in self.dynamic:
            artist.set_animated(True)  # a full draw leaves them out: they are painted by render()

    def render(self, key: Hashable, grids: Sequence[tuple[Axes, np.ndarray]] = (),
               on_top: Sequence[Artist] = ()) -> bytes:
        """Paint the figure for the static state ``key``, each (axes, colour grid), and return PNG bytes.

        ``on_top``: static artists painted once more over the dynamic ones (a pinned curve under the live one).
        """
        if key in self._backgrounds:
            self._backgrounds.move_to_end(key)
            self.canvas.restore_region(self._backgrounds[key])
        else:
            self.canvas.draw()
            self._backgrounds[key] = self.canvas.copy_from_bbox(self.fig.bbox)
            if len(self._backgrounds) > self.cache_size:
                self._backgrounds.popitem(last=False)
        for artist in self.dynamic:
            if artist.get_visible():
                self.fig.draw_artist(artist)
        for ax, rgb in grids:
            paint_grid(self.canvas, ax, rgb)
        for artist in on_top:
            self.fig.draw_artist(artist)
        return encode_png(self.canvas, self.palette)

