"""Build reveal.js decks of the notebooks into slides/, working offline (no CDN).

nbconvert's slides load reveal.js, jQuery, RequireJS, MathJax and Mermaid from CDNs. This script
installs pinned copies with npm (tools/slides/package.json, once), copies what the decks load into
slides/vendor/, and points nbconvert at those copies. Widget state is left out of the decks: they are
static pages; for live widgets in a slideshow, use RISE inside JupyterLab.

Usage: .venv/bin/python tools/build_slides.py [OUTPUT_DIR]   (default: slides)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
VENDOR_SRC = ROOT / "tools" / "slides"
MODULES = VENDOR_SRC / "node_modules"
DECKS = ["00_matmul_primer", "01_initialization", "02_forward", "03_backward", "04_refactor", "05_pytorch",
         "06_training"]
# Only what a deck loads: reveal.js and its notes plugin, and MathJax's TeX input with HTML output.
COPIES = {
    "reveal.js/dist/reveal.css": "reveal.js/dist/reveal.css",
    "reveal.js/dist/reveal.js": "reveal.js/dist/reveal.js",
    # Only the white theme: the other themes import fonts from Google.
    "reveal.js/dist/theme/white.css": "reveal.js/dist/theme/white.css",
    "reveal.js/dist/theme/fonts/source-sans-pro": "reveal.js/dist/theme/fonts/source-sans-pro",
    "reveal.js/plugin/notes": "reveal.js/plugin/notes",
    "jquery/dist/jquery.min.js": "jquery.min.js",
    "requirejs/require.js": "require.js",
    "mathjax/MathJax.js": "mathjax/MathJax.js",
    "mathjax/config": "mathjax/config",
    "mathjax/extensions": "mathjax/extensions",
    "mathjax/localization/en": "mathjax/localization/en",
    "mathjax/jax/element": "mathjax/jax/element",
    "mathjax/jax/input/TeX": "mathjax/jax/input/TeX",
    "mathjax/jax/output/CommonHTML": "mathjax/jax/output/CommonHTML",
    "mathjax/fonts/HTML-CSS/TeX/woff": "mathjax/fonts/HTML-CSS/TeX/woff",
}
# The slides template always imports Mermaid; no notebook here draws Mermaid diagrams, so an inline
# stand-in module takes its place (a file would not load as a module from file://).
MERMAID_STUB = "data:text/javascript,export default { initialize() {} };"


def install_vendor() -> None:
    """npm-install the pinned front-end packages once (npm ci when a lock file is present)."""
    if MODULES.exists():
        return
    command = "ci" if (VENDOR_SRC / "package-lock.json").exists() else "install"
    subprocess.run(["npm", command, "--no-audit", "--no-fund", "--loglevel=error"], cwd=VENDOR_SRC, check=True)


def copy_vendor(out: Path) -> None:
    """Copy the files the decks load into OUT/vendor."""
    vendor = out / "vendor"
    for source, target in COPIES.items():
        src, dst = MODULES / source, vendor / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def exporter() -> SlidesExporter:
    """A SlidesExporter whose every script and style sheet is a relative path into vendor/."""
    c = Config()
    c.SlidesExporter.reveal_url_prefix = "vendor/reveal.js"
    c.SlidesExporter.reveal_theme = "white"  # its fonts ship with reveal.js; "simple" fetches Google Fonts
    c.SlidesExporter.reveal_scroll = True
    c.SlidesExporter.jquery_url = "vendor/jquery.min.js"
    c.SlidesExporter.require_js_url = "vendor/require.js"
    c.SlidesExporter.mathjax_url = "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    slides = SlidesExporter(config=c)
    # nbconvert 7.17 does not mark this one configurable; set it on the instance.
    slides.mermaid_js_url = MERMAID_STUB
    return slides


def build(out: Path) -> list[Path]:
    """Write one deck per core notebook and an index page; return the deck paths."""
    install_vendor()
    out.mkdir(parents=True, exist_ok=True)
    copy_vendor(out)
    slides = exporter()
    written = []
    for name in DECKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        nb.metadata.pop("widgets", None)
        body, _ = slides.from_notebook_node(nb, resources={"metadata": {"name": name}})
        path = out / f"{name}.slides.html"
        path.write_text(body, encoding="utf-8")
        written.append(path)
    links = "\n".join(f'<li><a href="{p.name}">{p.stem.replace(".slides", "")}</a></li>' for p in written)
    (out / "index.html").write_text(f"<!doctype html><meta charset='utf-8'><title>Foundations: slides</title>"
                                    f"<h1>Foundations: slides</h1><ul>\n{links}\n</ul>\n", encoding="utf-8")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "slides"
    for deck in build(target):
        print(f"wrote {deck}")
