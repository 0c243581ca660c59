"""A class on JupyterHub, for real: a hub on 127.0.0.1, two students, the course handed out by an nbgitpuller link.

The hub loads the course's own hub/jupyterhub_config.py (first-use passwords for the students on the roster, the
idle culler), then swaps what needs root or systemd for what runs in a test: a local-process spawner that gives
each student a home folder under a temporary directory, addresses on 127.0.0.1, its own proxy
(configurable-http-proxy, from `make hub-proxy`). Students' servers run from an environment like the hub image's:
course_utils built and installed as a normal package, not the development checkout. The course comes from a
local git repository holding the repository's files. Each student logs in through the link in Chromium, picks a
password and gets notebook 01; the first runs it and presses an arrow key on the explorer's slider. Then the instructor
changes a notebook, one student edits their copy, and the same link pulls again: the edit stays, the update
arrives.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest

from tests.chromium import launched, require_chromium

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # servers, browsers or extra environments: left out of `make test-quick`

PROXY = ROOT / "tools" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
require_chromium()  # skips this module without a Chromium, with the reason (an error in CI)
if not PROXY.exists():
    reason = f"JupyterHub's proxy is not installed at {PROXY.relative_to(ROOT)} (make hub-proxy; it needs npm)"
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the hub test, but {reason}")
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

from tests.test_browser import free_port, notebook_01_explorer  # noqa: E402

STUDENTS = ("ada", "grace")
LATECOMER = "barbara"  # on the roster too; logs in without opening the course
COURSE = "foundations"  # the folder nbgitpuller makes in each home: the repository's name
NOTEBOOK = "notebooks/01_initialization.ipynb"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` as the instructor."""
    cmd = ["git", "-c", "user.name=Instructor", "-c", "user.email=instructor@example.org", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def course_repository(path: Path) -> Path:
    """A git repository holding the notebooks and the package, as an instructor's course repository would."""
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for folder in ("notebooks", "course_utils"):
        shutil.copytree(ROOT / folder, path / folder, ignore=skip)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "add", "notebooks", "course_utils")
    git(path, "commit", "--quiet", "-m", "The course")
    return path


def image_environment(work: Path) -> Path:
    """A Python environment standing in for the hub image: course_utils built from a copy of the package and
    installed as a normal package; every other package is the test venv's (a path entry, not its .pth hooks,
    so the development checkout's editable install stays out)."""
    env, source = work / "image", work / "package"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (site / "test-venv-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for folder in ("share", "etc"):  # JupyterLab's assets, server extensions (nbgitpuller), Voila's template
        (env / folder).symlink_to(Path(sys.prefix) / folder)
    shutil.copytree(ROOT / "course_utils", source / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--ignore-installed", "--prefix", str(env), str(source)],
                   check=True, capture_output=True)  # --ignore-installed: leave the test venv's own copy alone
    return env


def hub_config(work: Path, port: int, env: Path) -> Path:
    """The course's jupyterhub_config.py, then what a test on 127.0.0.1 needs instead of root and systemd."""
    args = ["--allow-root"] if os.geteuid() == 0 else []
    lines = [
        f"load_subconfig({str(ROOT / 'hub' / 'jupyterhub_config.py')!r})",
        f"c.Authenticator.allowed_users = set({[*STUDENTS, LATECOMER]!r})",
        f"c.FirstUseAuthenticator.dbm_path = {str(work / 'passwords.dbm')!r}",
        f"c.JupyterHub.bind_url = 'http://127.0.0.1:{port}'",
        f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{free_port()}'",
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{free_port()}'",
        f"c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]",
        f"c.JupyterHub.db_url = 'sqlite:///{work / 'hub.sqlite'}'",
        f"c.JupyterHub.cookie_secret_file = {str(work / 'cookie_secret')!r}",
        f"c.JupyterHub.pid_file = {str(work / 'hub.pid')!r}",
        "c.JupyterHub.spawner_class = 'simple'",
        f"c.SimpleLocalProcessSpawner.home_dir_template = {str(work / 'homes' / '{username}')!r}",
        f"c.Spawner.cmd = [{str(env / 'bin' / 'python')!r}, '-m', 'jupyterhub.singleuser']",
        f"c.Spawner.args = {args!r}",
    ]
    path = work / "jupyterhub_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def running_hub(work: Path, config: Path, url: str):
    """Start JupyterHub, wait until it answers at ``url``, yield, then stop it and every student's server."""
    log_path = work / "hub.log"
    with open(log_path, "w") as log:
        hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=work,
                               stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(f"{url}/hub/api/", timeout=3).close()
                    break
                except OSError:
                    if hub.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("JupyterHub did not start:\n" + log_path.read_text()) from None
                    time.sleep(0.5)
            yield hub
        finally:
            spawned = psutil.Process(hub.pid).children(recursive=True)
            hub.terminate()  # JupyterHub stops the servers it spawned and its proxy on the way out
            try:
                hub.wait(timeout=60)
            except subprocess.TimeoutExpired:
                hub.kill()
            # A server still starting or slow to stop can outlive the hub: end those too.
            for process in spawned:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.terminate()
            _, alive = psutil.wait_procs(spawned, timeout=20)
            for process in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A running hub and the course repository it hands out; yields (hub URL, work folder, repository, hub process)."""
    work = tmp_path_factory.mktemp("hub")
    source = course_repository(work / COURSE)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_hub(work, hub_config(work, port, image_environment(work)), url) as process:
        yield url, work, source, process


@pytest.fixture(scope="module")
def browser():
    with launched() as chromium:
        yield chromium


def new_page(browser) -> Page:
    """A page in a fresh browser context: no cookies, as a student's own browser."""
    return browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()


def pull_link(hub_url: str, source: Path) -> str:
    """The link an instructor hands out: nbgitpuller clones or updates the course, then opens notebook 01."""
    query = urllib.parse.urlencode({"repo": source.as_uri(), "branch": "main",
                                    "urlpath": f"lab/tree/{COURSE}/{NOTEBOOK}"})
    return f"{hub_url}/hub/user-redirect/git-pull?{query}"


def log_in(page: Page, student: str, password: str) -> None:
    """Fill in and send the hub's login form."""
    page.locator("#username_input").fill(student)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()


def open_course(page: Page, link: str, student: str, password: str, *, render: bool = True) -> None:
    """Follow the link as a student: log in where asked, wait for the pull (nbgitpuller then sends the browser on
    to notebook 01) and, unless ``render`` is False, for the notebook to show in JupyterLab."""
    page.goto(link)
    if "/hub/login" in page.url:
        log_in(page, student, password)
    page.wait_for_url(f"**/user/{student}/lab/tree/{COURSE}/{NOTEBOOK}**", timeout=180_000)
    if not render:
        return
    page.locator(".jp-Notebook").first.wait_for(timeout=120_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel", has_text="01_initialization.ipynb")
    expect(tab.first).to_be_visible(timeout=60_000)


def explorer_answers_a_key_press(page: Page) -> None:
    """Run notebook 01, then press ArrowLeft on the explorer's scale slider: the readout and the plot follow."""
    explorer, readout, image = notebook_01_explorer(page)
    before = image.get_attribute("src")
    handle = explorer.locator(".widget-slider .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    # Through the hub's proxy, on a busy shared machine: allow more than the default five seconds.
    expect(readout).to_contain_text("scale 0.977 ·", timeout=30_000)
    expect(image).not_to_have_attribute("src", before or "", timeout=30_000)


def add_markdown(path: Path, text: str) -> None:
    """Append a markdown cell to a notebook file."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(text))
    nbformat.write(nb, path)


def servers_and_kernels(hub: subprocess.Popen) -> list[psutil.Process]:
    """The processes the hub started for students: Jupyter servers and their kernels."""
    return [p for p in psutil.Process(hub.pid).children(recursive=True)
            if any(part in " ".join(p.cmdline()) for part in ("jupyterhub.singleuser", "ipykernel_launcher"))]


def test_two_students_get_the_course_and_keep_their_edits_across_an_update(hub, browser):
    url, work, source, process = hub
    link = pull_link(url, source)
    passwords = {student: secrets.token_hex(8) for student in STUDENTS}  # chosen at the first login
    for student in STUDENTS:
        page = new_page(browser)
        open_course(page, link, student, passwords[student])
        assert (work / "homes" / student / COURSE / NOTEBOOK).exists()
        if student == STUDENTS[0]:  # one student runs the notebook; the others' kernels start with the page
            explorer_answers_a_key_press(page)
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-artifacts" / "hub_student.png"))
        # Closing the browser ends JupyterLab's autosave, which could otherwise write over the edit below.
        page.context.close()

    # Every student's server and kernel runs the image environment, whose course_utils is an installed copy.
    env = work / "image" / "bin" / "python"
    running = servers_and_kernels(process)
    servers = [p for p in running if "jupyterhub.singleuser" in " ".join(p.cmdline())]
    assert len(servers) == len(STUDENTS) and len(running) > len(servers), running  # a server each, and kernels
    assert all(p.cmdline()[0] == str(env) for p in running), running
    where = subprocess.run([str(env), "-c", "import course_utils; print(course_utils.__file__)"], check=True, text=True,
                           capture_output=True, cwd=work / "homes" / STUDENTS[0] / COURSE / "notebooks").stdout
    assert Path(where).is_relative_to(work / "image" / "lib"), where
    # The idle culler from the course's config runs beside the hub.
    assert any("jupyterhub_idle_culler" in " ".join(p.cmdline()) for p in psutil.Process(process.pid).children())

    # The instructor updates another notebook; the first student writes a note into their copy of notebook 01.
    update = "Update from the instructor: a new exercise."
    add_markdown(source / "notebooks" / "02_forward.ipynb", update)
    git(source, "commit", "--quiet", "-am", "Update notebook 02")
    note = "My own note, kept across updates."
    student_copy = work / "homes" / STUDENTS[0] / COURSE
    add_markdown(student_copy / NOTEBOOK, note)

    for student in STUDENTS:  # the student who edited, and one who did not, each logging in again
        page = new_page(browser)
        open_course(page, link, student, passwords[student], render=False)  # JupyterLab itself was shown above
        copy = work / "homes" / student / COURSE / "notebooks"
        assert update in (copy / "02_forward.ipynb").read_text(), f"{student} did not get the update"
        page.context.close()
    assert note in (student_copy / NOTEBOOK).read_text(), "the student's edit was lost in the pull"
    assert note not in (work / "homes" / STUDENTS[1] / COURSE / NOTEBOOK).read_text()


def test_only_the_roster_logs_in_and_a_chosen_password_sticks(hub, browser):
    url = hub[0]
    page = new_page(browser)
    login = f"{url}/hub/login?next=" + urllib.parse.quote("/hub/home")  # the hub's home page: no server started
    page.goto(login)
    log_in(page, LATECOMER, "the-first-choice")
    page.wait_for_url("**/hub/home**")
    page.goto(f"{url}/hub/logout")
    for name, password in (("mallory", "long-enough-password"), (LATECOMER, "a-second-choice")):
        page.goto(login)
        log_in(page, name, password)
        expect(page.locator("#login_submit")).to_be_visible()  # refused: still on the login page
        assert "/hub/login" in page.url, name
    page.context.close()
