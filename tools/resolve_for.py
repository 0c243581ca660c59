"""Resolve a requirements file for another platform with pip, without installing: does every pin have a wheel there?

pip's ``--platform`` picks wheels for the target, but evaluates environment markers (``; platform_system ==
"Linux"``) for the machine it runs on, so torch's Linux-only CUDA packages would be asked for on Windows too.
This runs pip with the markers evaluated for the target instead, and prints pip's JSON report of what it would
install. Only the default index (PyPI) is used: no pip configuration, no local wheels.

Usage: python tools/resolve_for.py PLATFORM PYTHON_VERSION REQUIREMENTS REPORT
   e.g. python tools/resolve_for.py macosx_14_0_arm64 3.11 student/requirements.txt report.json
"""

from __future__ import annotations

import os
import sys
import tempfile

# What packaging's markers see on each kind of target (the values that torch's and others' markers test).
MARKERS = {
    "macosx": {"os_name": "posix", "sys_platform": "darwin", "platform_system": "Darwin"},
    "win": {"os_name": "nt", "sys_platform": "win32", "platform_system": "Windows"},
    "manylinux": {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux"},
}
MACHINES = {"arm64": "arm64", "x86_64": "x86_64", "amd64": "AMD64", "aarch64": "aarch64"}


def target_environment(platform: str, python: str) -> dict[str, str]:
    """Marker values for a wheel platform tag such as macosx_14_0_arm64 or win_amd64, and a Python like 3.11."""
    kind = next(k for k in MARKERS if platform.startswith(k))
    machine = next(v for k, v in MACHINES.items() if platform.endswith(k))
    return {**MARKERS[kind], "platform_machine": machine, "python_version": python,
            "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "implementation_version": f"{python}.0",
            "platform_release": "", "platform_version": ""}


def main(argv: list[str]) -> int:
    """Run pip's resolver for the target; pip's exit status."""
    platform, python, requirements, report = argv
    from pip._internal.cli.main import main as pip_main
    from pip._vendor.packaging import markers

    environment = target_environment(platform, python)
    markers.default_environment = lambda: dict(environment)
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        del os.environ[name]
    os.environ["PIP_CONFIG_FILE"] = os.devnull  # PyPI only: no site or user configuration, no local wheels
    with tempfile.TemporaryDirectory() as target:
        return pip_main(["install", "--dry-run", "--ignore-installed", "--quiet", "--target", target,
                         "--only-binary=:all:", "--platform", platform, "--python-version", python,
                         "--disable-pip-version-check", "--retries", "1", "--timeout", "15",
                         "--report", report, "-r", requirements])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
