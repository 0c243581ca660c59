"""Measure what a fresh course setup downloads and what it takes on disk (the figures in the README).

Downloads every package of requirements.txt (the course, as a student installs it) into a temporary folder,
the way `make setup` resolves them (CPU torch index on Linux where reachable, else local wheels), sums the
files, installs them into a fresh venv from that folder alone, and sums the venv. With --test, the test
tools too. Standard library only. Usage: python tools/measure_setup.py [--test]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from setup_venv import ROOT, torch_index_args, venv_python  # noqa: E402

MB = 1000 * 1000


def folder_size(path: Path) -> int:
    """Bytes in all files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> None:
    """Download, install, and print both sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="include requirements-test.txt")
    args = parser.parse_args()
    files = ["requirements.txt"] + (["requirements-test.txt"] if args.test else [])
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        requirements = scratch / "requirements.txt"
        # The editable course package itself is a few kB; leave it out so pip need not build it.
        lines = [line for name in files for line in (ROOT / name).read_text().splitlines()
                 if not line.startswith(("-e", "-c"))]
        requirements.write_text("\n".join([f"-c {ROOT / 'constraints.txt'}", *lines]) + "\n")
        wheels = scratch / "wheels"
        pip = [sys.executable, "-m", "pip"]
        subprocess.run([*pip, "download", "--quiet", "--no-cache-dir", "-d", str(wheels), "-r", str(requirements),
                        *torch_index_args(platform.system())], check=True)
        venv = scratch / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        before = folder_size(venv)
        subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--no-index", "--find-links",
                        str(wheels), "-r", str(requirements)], check=True)
        downloaded, installed = folder_size(wheels), folder_size(venv) - before
        sizes = sorted(((f.stat().st_size, f.name.split("-")[0]) for f in wheels.iterdir()), reverse=True)
    print(f"{' + '.join(files)}: {downloaded / MB:.0f} MB downloaded, {installed / MB:.0f} MB installed "
          f"(a new venv holds {before / MB:.0f} MB more: pip itself)")
    print("largest downloads: " + ", ".join(f"{name} {size / MB:.0f} MB" for size, name in sizes[:3]))


if __name__ == "__main__":
    main()
