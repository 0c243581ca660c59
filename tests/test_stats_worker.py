"""The stats worker: a second process that measures the float32 run's layers and computes settings ahead.

Whatever it does, the explorer's numbers must be exactly those computed in the kernel alone.
"""

import os
import subprocess
import sys
import time

import pytest
import torch

from course_utils import stats_worker
from course_utils.fast_stats import (
    KNOWN,
    exact_stats,
    float32_stats,
    forget,
    look_ahead,
    measure,
    setting_key,
    stack_stats,
)

# The ``worker`` fixture (conftest.py) starts the worker, and skips where it cannot start, except in CI.


def same(a, b) -> bool:
    return all(torch.equal(getattr(a, f).nan_to_num(), getattr(b, f).nan_to_num()) for f in vars(a))


SETTINGS = [(0.1, "tanh", 50, 100, 200, 0), (0.01, "linear", 50, 100, 200, 0), (2.0, "tanh", 7, 9, 5, 4)]


@pytest.mark.parametrize("setting", SETTINGS)
def test_layers_measured_by_the_worker_are_exactly_those_measured_here(worker, setting):
    before = worker.counts["measured"]
    shared = exact_stats(*setting)
    assert worker.counts["measured"] > before  # the worker did measure
    assert same(shared, exact_stats(*setting, worker=False))


def wait_for(worker, key, timeout=30.0):
    end = time.monotonic() + timeout
    while key not in worker.ahead and time.monotonic() < end:
        worker.drain()
        time.sleep(0.01)
    return key in worker.ahead


@pytest.mark.parametrize("setting", SETTINGS)
def test_numbers_computed_ahead_are_exactly_those_computed_here(worker, setting):
    stack_stats(0.1, *setting[1:])  # a linear stack is computed ahead only once its unscaled run is cached
    forget()
    look_ahead([setting])
    assert wait_for(worker, setting_key(*setting))
    used = worker.counts["ahead used"]
    ahead = exact_stats(*setting)
    assert worker.counts["ahead used"] == used + 1
    assert same(ahead, float32_stats(*setting_key(*setting), None))


def test_a_change_interrupts_the_look_ahead_and_gets_its_own_numbers(worker):
    forget()
    wanted = [(0.1 * 1.02 ** i, "tanh", 50, 100, 200, 0) for i in range(1, 6)]
    look_ahead(wanted)
    other = (0.3, "tanh", 50, 100, 200, 0)
    assert same(exact_stats(*other), exact_stats(*other, worker=False))
    worker.drain()
    assert not worker.queued  # the worker dropped what was left of the request


def test_what_is_known_or_cheap_is_not_computed_ahead(worker):
    forget()
    stack_stats(0.1, "tanh", 50, 100, 200, 0)
    stack_stats(0.1, "linear", 50, 100, 200, 0)  # caches the unscaled linear run: its scales are cheap here
    look_ahead([(0.1, "tanh", 50, 100, 200, 0), (0.2, "linear", 50, 100, 200, 0)])
    assert not worker.queued
    look_ahead([(1.0, "linear", 50, 100, 200, 0), (1.0, "linear", 50, 100, 200, 0)])  # overflows: float32
    assert worker.queued == [setting_key(1.0, "linear", 50, 100, 200, 0)]  # once
    assert (*worker.queued[0], True) not in KNOWN


def test_the_explorer_finds_the_next_key_press_computed_ahead(worker):
    from course_utils import init_explorer

    forget()
    explorer = init_explorer(activation="tanh", scale=0.1)
    explorer.scale.value = 10 ** -0.99  # one step right: the next step right is computed ahead first
    assert wait_for(worker, setting_key(10 ** -0.98, "tanh", 50, 100, 200, 0))
    used = worker.counts["ahead used"]
    explorer.scale.value = 10 ** -0.98
    assert worker.counts["ahead used"] == used + 1
    assert same(explorer.stats, exact_stats(10 ** -0.98, "tanh", 50, 100, 200, 0, worker=False))


def test_a_dead_worker_leaves_the_work_to_the_kernel(worker):
    doomed = stats_worker.StatsWorker()
    assert doomed.wait_ready(120)
    doomed.process.kill()
    doomed.process.wait()
    key = setting_key(0.1, "tanh", 20, 30, 40, 1)
    assert same(float32_stats(*key, doomed), float32_stats(*key, None))
    assert doomed.broken and not doomed.ready() and doomed.conn.closed


def test_the_worker_reads_what_the_kernel_writes(worker):
    buffers = stats_worker.SharedBuffers({"activations": (3, 4, 5), "gradients": (2, 2)})
    assert buffers.shareable
    worker.share(buffers)
    buffers["activations"].copy_(torch.randn(3, 4, 5).tanh())
    worker.submit(measure, "activations", 1, 3, "tanh", "activations")
    got = worker.collect()[("activations", 1)]
    expected = measure(buffers["activations"][1:3], "tanh", "activations")
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_shared_buffers_close_what_they_open():
    before = len(os.listdir("/proc/self/fd"))
    buffers = stats_worker.SharedBuffers({"activations": (3, 4, 5), "gradients": (2, 2)})
    assert len(os.listdir("/proc/self/fd")) > before  # the memory's descriptors (and mmap's copies of them)
    del buffers
    assert len(os.listdir("/proc/self/fd")) == before


def test_an_interrupt_mid_message_ends_the_worker_and_a_new_one_takes_over(worker, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(worker.conn, "recv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        exact_stats(0.2, "tanh", 50, 100, 200, 0)
    assert worker.broken and worker.process.poll() is not None  # ended: its unread answers can mislead no one
    monkeypatch.undo()
    fresh = stats_worker.start()
    assert fresh is not worker and fresh.wait_ready(120)
    assert same(exact_stats(0.2, "tanh", 50, 100, 200, 0), exact_stats(0.2, "tanh", 50, 100, 200, 0, worker=False))
    assert fresh.counts["measured"] > 0


def test_an_environment_variable_keeps_the_worker_off():
    code = "from course_utils import stats_worker; print(stats_worker.start())"
    env = {**os.environ, "COURSE_UTILS_STATS_WORKER": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


@pytest.mark.parametrize("files,expected", [
    ({"cpu.max": "50000 100000"}, 0.5),                                      # cgroup v2, half a core
    ({"cpu/cpu.cfs_quota_us": "150000", "cpu/cpu.cfs_period_us": "100000"}, 1.5),  # cgroup v1
])
def test_a_cpu_quota_counts_as_fewer_cores(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    assert stats_worker.available_cores(str(tmp_path)) == expected
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "cpu").mkdir(exist_ok=True)
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert stats_worker.available_cores(str(tmp_path)) == len(os.sched_getaffinity(0))
