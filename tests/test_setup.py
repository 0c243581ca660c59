"""Setting up as a new user would: the Python check, a venv without pip, CPU torch, and the README's commands."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from tools import setup_venv

ROOT = Path(__file__).resolve().parents[1]
VERSION = sys.version_info[:2]
STAMP = ROOT / ".venv" / f".course-{VERSION[0]}.{VERSION[1]}"


def test_a_too_old_python_gets_one_line_naming_the_supported_versions(tmp_path, capsys):
    assert setup_venv.main([str(tmp_path / "venv"), "requirements.txt"], version=(3, 10)) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "Python 3.10 is too old" in err and "3.11, 3.12 or 3.13" in err
    assert not (tmp_path / "venv").exists()


def test_supported_and_newer_pythons_pass_the_check():
    for version in setup_venv.SUPPORTED:
        assert setup_venv.check_python(version) is None
    assert "newer than the tested" in setup_venv.check_python((3, 14))


def make_pipless_venv(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)


def test_a_venv_without_pip_is_detected_with_the_one_line_fix(tmp_path):
    venv = tmp_path / "venv"
    make_pipless_venv(venv)
    assert not setup_venv.has_pip(venv)
    # As on Debian without python3-venv: every new venv comes out without pip.
    with pytest.raises(setup_venv.SetupError, match=rf"sudo apt install python{VERSION[0]}\.{VERSION[1]}-venv"):
        setup_venv.ensure_venv(venv, VERSION, create=make_pipless_venv)
    assert not venv.exists(), "the broken venv must not stay behind"


@pytest.mark.slow
def test_a_pipless_venv_left_behind_is_replaced_once_venv_works(tmp_path):
    venv = tmp_path / "venv"
    make_pipless_venv(venv)
    setup_venv.ensure_venv(venv, VERSION)
    assert setup_venv.has_pip(venv)


def test_cpu_index_is_added_on_linux_only_when_it_answers(capsys):
    probed = []
    assert setup_venv.torch_index_args("Linux", probe=lambda url: probed.append(url)) == [
        "--extra-index-url", setup_venv.TORCH_CPU_INDEX]
    assert setup_venv.torch_index_args("Linux", probe=lambda url: "Name or service not known") == []
    note = capsys.readouterr().out
    assert note.count("\n") == 1 and "cannot be reached (Name or service not known)" in note
    assert setup_venv.torch_index_args("Darwin", probe=lambda url: probed.append(url)) == []
    assert len(probed) == 1, "macOS takes the default index without probing"


def test_an_unreachable_index_gives_the_reason():
    reason = setup_venv.reachable("https://no-such-host.invalid/whl/cpu/", timeout=5)
    assert isinstance(reason, str) and reason  # a reason to print, not None ("it answered")


def test_no_cuda_package_is_installed():
    names = sorted(dist.metadata["Name"].lower() for dist in importlib.metadata.distributions())
    cuda = [name for name in names if name.startswith(("nvidia-", "cuda-", "triton"))]
    assert cuda == [], f"CUDA packages in a CPU-only setup: {cuda}"
    assert torch.version.cuda is None


def test_course_and_test_requirements_are_split_and_pinned():
    def requirement_lines(name: str) -> list[str]:
        lines = (ROOT / name).read_text().splitlines()
        return [line for line in lines if line.strip() and not line.startswith(("#", "-c", "-e"))]

    course, testing = requirement_lines("requirements.txt"), requirement_lines("requirements-test.txt")
    for line in course + testing:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^\s]*", line), f"not pinned exactly: {line}"
    course_names = {line.split("==")[0] for line in course}
    assert {"torch", "jupyterlab", "ipywidgets"} <= course_names
    assert not course_names & {"pytest", "nbval", "hypothesis", "ruff", "playwright", "jupyter-repo2docker"}
    assert {"pytest", "jupyterhub", "nbgitpuller"} <= {line.split("==")[0] for line in testing}


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run make in the repository, never remaking the course venv (it is set up: we are running in it)."""
    stamp = str(STAMP.relative_to(ROOT))
    cmd = [shutil.which("make"), "--no-print-directory", f"PYTHON={sys.executable}", "-o", stamp, *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)


def test_make_slides_without_npm_says_so_in_one_line(tmp_path):
    # A PATH with a shell and nothing else: no npm.
    (tmp_path / "sh").symlink_to(shutil.which("sh"))
    run = make("slides", env={**os.environ, "PATH": str(tmp_path)})
    assert run.returncode != 0
    assert "make slides needs npm" in run.stderr and "Traceback" not in run.stderr + run.stdout


def test_make_voila_serves_the_explorer_from_the_venv():
    run = make("-n", "voila")
    command = run.stdout.strip().splitlines()[-1]
    assert command.startswith(".venv/bin/voila ") and command.endswith("notebooks/explorer_app.ipynb")
    assert (ROOT / command.split()[0]).exists()
    assert "make voila" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_make_lab_starts_without_asking_about_news(tmp_path):
    command = [line for line in make("-n", "lab").stdout.splitlines() if "jupyter lab" in line][-1].split()
    port, token = 18000 + secrets.randbelow(2000), secrets.token_hex(8)
    command += ["--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    log = tmp_path / "lab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    url = f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"
                    with urllib.request.urlopen(url, timeout=5) as answer:
                        settings = json.load(answer)
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
    # "false" (not the undecided "none") is what keeps JupyterLab from asking about news on first start.
    assert settings["schema"]["properties"]["fetchNews"]["default"] == "false"


PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES)
def test_readme_and_docs_speak_only_of_what_the_repository_holds(page):
    text = (ROOT / page).read_text()
    assert not re.search(r"\.\./\w", text), f"{page} names a file outside the repository"
    for path in re.findall(r"`((?:tools|tests|benchmarks|binder|notebooks|course_utils|docs)/[\w./-]+)`", text):
        assert (ROOT / path).exists(), f"{page} names {path}, which is not in the repository"
    for link in re.findall(r"\]\(((?!https?:)[^)#]+)", text):  # relative links between the pages
        assert (ROOT / page).parent.joinpath(link).exists(), f"{page} links to {link}, which is missing"
