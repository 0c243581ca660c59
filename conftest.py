"""Root pytest configuration: nbval's sanitize rules wherever pytest is started from, and the longest modules first."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent

# `make test` hands whole modules to three workers in collection order (pytest-xdist's loadscope, without its
# reordering by test count). The longest modules go first so that none of them starts last and runs alone.
# A worker whose module has two tests or fewer is handed the next module at once, so a quick module with many
# tests follows the hub's. The order changes how busy the workers are, never what runs.
LONGEST_FIRST = ("tests/test_student_install.py", "tests/test_browser.py", "tests/test_hub.py",
                 "tests/test_functions.py", "tests/test_student.py", "tests/test_grading.py",
                 "tests/test_colab_kernel.py", "tests/test_explorer_lab.py", "tests/test_setup.py",
                 "tests/test_explorer.py", "notebooks/01_initialization.ipynb", "tests/test_publish.py",
                 "tests/test_slides.py")


def pytest_configure(config):
    if getattr(config.option, "nbval_sanitize_with", None) is None:
        config.option.nbval_sanitize_with = str(ROOT / "tests" / "nbval_sanitize.cfg")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # a stable sort: each module's tests, and each notebook's cells, keep their order
