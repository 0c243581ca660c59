"""A second process for the explorer's float32 numbers: it measures layers while the kernel computes the next
ones, and computes ahead the settings that the next key press will ask for.

Measuring a layer (its std, its histogram, its saturated and dead units) costs about as much as computing
it. A thread cannot take that work off the kernel: both threads need Python's lock for every small
operation, and handing it back and forth costs most of what the thread saves. A process has a lock of its
own. It reads the layers from buffers in shared memory, so only a few numbers travel each way.

Between changes the worker computes ahead: the kernel names the settings the next change may ask for (one
slider step either way, the presets), and once the kernel has sent nothing for ``QUIET_S`` the worker
computes them in order until a new message arrives (then it drops the rest and answers that). Changes
that come faster than that (a quick drag, a held key) start nothing ahead: it would not be used.

The process (``python -m course_utils.stats_worker``: it never imports the caller's script, as
multiprocessing's spawn would) starts in the background in about 2 s, costs about 170 MB of memory of
its own (250 MB resident, part of it torch's libraries shared with the kernel), and is used once it says
it is ready. Where it cannot start (less than two cores, counting a hub's CPU quota; not Linux; or
COURSE_UTILS_STATS_WORKER=0), ``running()`` returns None and the caller does the work itself, as it does
while a worker that died or stalled is replaced (three starts at most).
"""

from __future__ import annotations

import math
import mmap
import os
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle, send_handle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

Numbers = tuple[Tensor, ...]


def _arrays(fn: Callable[..., Numbers | None], *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
    """``fn``'s result as numpy arrays (a pickled tensor would travel through new shared memory); None if it failed."""
    try:
        result = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001  the kernel computes it itself and sees the error there
        return None
    return None if result is None else tuple(t.numpy() for t in result)


QUIET_S = 0.03  # computing ahead starts once the kernel has sent nothing new for this long
IN_WORKER = False  # True in the worker: its own runs (computed ahead) need no shared buffers


def _map(handle: int, shape: tuple[int, ...]) -> Tensor:
    """A float32 tensor over the memory behind a file descriptor (the tensor keeps the mapping alive)."""
    return torch.frombuffer(mmap.mmap(handle, 4 * math.prod(shape)), dtype=torch.float32).view(shape)


class SharedBuffers:
    """float32 tensors by name, in anonymous shared memory that the worker maps too (it then reads them).

    The memory has no name in any file system (``memfd_create``), so nothing is left behind when a kernel
    is killed; it is handed to the worker as file descriptors over the Unix socket between them.
    """

    def __init__(self, shapes: dict[str, tuple[int, ...]]) -> None:
        self.shapes, self.handles = shapes, {}
        self.tensors: dict[str, Tensor] = {}
        for name, shape in shapes.items():
            if not IN_WORKER and hasattr(os, "memfd_create"):
                handle = -1
                try:
                    handle = os.memfd_create(f"course-utils-{name}")
                    # Reserve the memory now: a mapped page with no room behind it would kill the kernel on write.
                    os.posix_fallocate(handle, 0, 4 * math.prod(shape))
                except OSError:
                    if handle >= 0:
                        os.close(handle)
                else:
                    self.handles[name] = handle
                    self.tensors[name] = _map(handle, shape)
                    continue
            self.tensors[name] = torch.empty(shape)

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    @property
    def shareable(self) -> bool:
        """True when every tensor lives in memory the worker can map."""
        return len(self.handles) == len(self.tensors)

    def __del__(self) -> None:
        try:
            for handle in self.handles.values():
                os.close(handle)
        except Exception:  # noqa: BLE001  at interpreter exit
            pass


def serve(conn: Connection) -> None:
    """The worker's loop: map the buffers it is given, measure slices of them, compute settings ahead."""
    global IN_WORKER
    IN_WORKER = True
    torch.set_num_threads(1)  # the other core is the kernel's
    shared: dict[str, Tensor] = {}
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the kernel is gone
            return
        kind = message[0]
        if kind == "share":
            shared = {}
            for name, shape in message[1].items():
                handle = recv_handle(conn)
                shared[name] = _map(handle, shape)
                os.close(handle)  # the mapping stays
        elif kind == "measure":
            _, fn, which, start, end, args = message
            conn.send(("measured", which, start, _arrays(fn, shared[which][start:end], *args)))
        elif kind == "ahead":
            _, request, fn, keys = message
            if conn.poll(QUIET_S):  # changes are coming fast (a drag, a held key): nothing ahead would be used
                conn.send(("dropped", request, keys))
                continue
            started = time.perf_counter()  # one clock for both processes on Linux (CLOCK_MONOTONIC)
            conn.send(("begun", request, started))
            for i, key in enumerate(keys):
                result = _arrays(fn, *key, interrupted=conn.poll)
                if result is None and conn.poll():  # interrupted: the kernel wants something else now
                    conn.send(("dropped", request, keys[i:]))
                    break
                finished = time.perf_counter()
                conn.send(("ahead", request, key, result, started, finished))
                started = finished


class WorkerGone(Exception):
    """The worker process ended or its pipe broke: compute here instead."""


class StatsWorker:
    """The kernel's side of the worker: share buffers, send slices to measure and settings to compute ahead.

    Any trouble talking to it (the process died, it stalled, the user interrupted the kernel mid-message)
    ends it: ``broken`` is then True, and ``start()`` starts a fresh one.
    """

    REPLY_TIMEOUT_S = 10.0  # a measured slice takes milliseconds: a worker this late has stalled

    def __init__(self) -> None:
        # A fresh interpreter (forking a kernel, which runs several threads, is unsafe), in a session of its
        # own: the kernel's interrupt button signals the kernel's process group, and must not end the worker.
        mine, theirs = socket.socketpair()  # a Unix socket: file descriptors can travel over it
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with theirs:
            self.process = subprocess.Popen([sys.executable, "-m", __name__, str(theirs.fileno())],
                                            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env,
                                            start_new_session=True)
        self.conn = Connection(mine.detach())
        self.is_ready, self.broken = False, False
        self.shared: SharedBuffers | None = None
        self.pending = 0                                     # slices sent and not yet answered
        self.measured: dict[tuple[str, int], Numbers | None] = {}
        self.request = 0                                     # number of the latest look-ahead request
        self.queued: list[Hashable] = []                     # its keys not yet answered, in the worker's order
        self.head_started = math.inf                         # when the worker began on queued[0] (perf_counter)
        self.took_s: dict[Hashable, float] = {}              # by stack (key without the scale): its last setting
        self.ahead: OrderedDict[Hashable, Numbers] = OrderedDict()  # computed ahead, not yet used
        self.counts = {"measured": 0, "ahead used": 0}       # for tests and benchmarks

    def ready(self) -> bool:
        """True once the process has started and nothing broke; never waits."""
        if not self.is_ready and not self.broken:
            self._receive(timeout=0)
        if not self.broken and self.process.poll() is not None:
            self._fail()
        return self.is_ready and not self.broken

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait up to ``timeout`` seconds for the process to start; True if it is ready."""
        if not self.is_ready and not self.broken:
            self._receive(timeout)
        return self.ready()

    def _fail(self) -> None:
        """End the worker after any trouble: what it still owes will never be read, so nothing may wait for it."""
        self.broken, self.pending, self.queued = True, 0, []
        self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _send(self, *messages: Any) -> None:
        """Send messages (a tuple, or an int: a file descriptor to hand over); WorkerGone if that fails."""
        try:
            for message in messages:
                if isinstance(message, int):
                    send_handle(self.conn, message, self.process.pid)
                else:
                    self.conn.send(message)
        except (OSError, ValueError) as err:  # a broken pipe, or a closed connection
            self._fail()
            raise WorkerGone(str(err)) from err
        except BaseException:  # an interrupt halfway through a message: the stream can no longer be trusted
            self._fail()
            raise

    def _receive(self, timeout: float) -> bool:
        """Handle one message from the worker, waiting up to ``timeout`` seconds; False if none came."""
        try:
            if not self.conn.poll(timeout):
                return False
            message = self.conn.recv()
        except (EOFError, OSError):
            self._fail()
            return False
        except BaseException:
            self._fail()
            raise
        kind = message[0]
        if kind == "ready":
            self.is_ready = True
        elif kind == "measured":
            _, which, start, arrays = message
            self.pending -= 1
            self.measured[which, start] = None if arrays is None else tuple(torch.from_numpy(a) for a in arrays)
        elif kind == "begun" and message[1] == self.request:
            self.head_started = message[2]
        elif kind == "ahead":
            _, request, key, arrays, started, finished = message
            if arrays is not None:
                self.ahead[key] = tuple(torch.from_numpy(a) for a in arrays)
                self.took_s[key[1:]] = finished - started
                while len(self.ahead) > 32:
                    self.ahead.popitem(last=False)
            if request == self.request and key in self.queued:
                self.queued.remove(key)
                self.head_started = finished  # the next key starts right away
        elif kind == "dropped" and message[1] == self.request:
            self.queued = [key for key in self.queued if key not in message[2]]
        return True

    def drain(self) -> None:
        """Handle every message that has arrived, without waiting."""
        while not self.broken and self._receive(timeout=0):
            pass

    def share(self, buffers: SharedBuffers) -> None:
        """Have the worker map these buffers to read slices from (once per set of buffers)."""
        if not buffers.shareable:
            raise WorkerGone("these buffers are not in shared memory")
        if self.shared is not buffers:
            self._send(("share", buffers.shapes), *(buffers.handles[name] for name in buffers.shapes))
            self.shared = buffers

    def submit(self, fn: Callable[..., Numbers], which: str, start: int, end: int, *args: Any) -> None:
        """Have the worker compute ``fn(buffers[which][start:end], *args)``; ``collect()`` returns the result."""
        self.pending += 1  # first: if the send is interrupted, the worker is ended anyway
        self._send(("measure", fn, which, start, end, args))

    def collect(self) -> dict[tuple[str, int], Numbers]:
        """Wait for every submitted slice; the results by (which, start). Slices that failed are left out."""
        while self.pending and not self.broken:
            if not self._receive(self.REPLY_TIMEOUT_S):
                self._fail()
        results = {key: numbers for key, numbers in self.measured.items() if numbers is not None}
        self.measured = {}
        self.counts["measured"] += len(results)
        return results

    def look_ahead(self, fn: Callable[..., Numbers | None], keys: Sequence[Hashable]) -> None:
        """Have the worker compute ``fn(*key, interrupted=...)`` for each key, in order, until a new message comes."""
        self.drain()
        keys = [key for key in dict.fromkeys(keys) if key not in self.ahead]
        if not keys or keys == self.queued:
            return
        self.request += 1
        self._send(("ahead", self.request, fn, keys))
        self.queued, self.head_started = keys, math.inf  # it begins after a quiet spell, and says so

    def take_ahead(self, key: Hashable, patience_s: float) -> Numbers | None:
        """The numbers computed ahead for ``key``: at once if they are in; if the worker is on them and should
        be done within ``patience_s`` seconds (judged by its last setting of this stack), after waiting."""
        self.drain()
        if key not in self.ahead and self.queued[:1] == [key]:
            now = time.perf_counter()
            left = self.took_s.get(key[1:], math.inf) - (now - self.head_started)
            deadline = now + patience_s
            while (left <= patience_s and key not in self.ahead and self.queued[:1] == [key] and not self.broken
                   and (wait := deadline - time.perf_counter()) > 0):
                self._receive(wait)
        numbers = self.ahead.pop(key, None)
        if numbers is not None:
            self.counts["ahead used"] += 1
        return numbers

    def forget(self) -> None:
        """Drop everything computed ahead, and what is on its way."""
        self.drain()
        self.ahead.clear()
        self.request += 1  # answers to earlier requests no longer count
        self.queued = []


_worker: StatsWorker | None = None
_starts = 0
MAX_STARTS = 3  # a worker that keeps breaking is not worth a fourth try: the kernel works alone


def available_cores(cgroup: str = "/sys/fs/cgroup") -> float:
    """Cores this process may use: its CPU affinity, and the CPU quota of its control group (a hub's limit)."""
    cores: float = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    root = Path(cgroup)
    for quota_file, period_file in ((root / "cpu.max", None),  # cgroup v2: "quota period" or "max period"
                                    (root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us")):
        try:
            fields = quota_file.read_text().split()
            quota, period = fields[0], fields[1] if period_file is None else period_file.read_text().strip()
            if quota not in ("max", "-1"):
                cores = min(cores, int(quota) / int(period))
        except (OSError, ValueError, IndexError):
            pass
    return cores


def start() -> StatsWorker | None:
    """Start the worker if none is running (it gets ready in the background); None if it cannot start.

    With less than two cores there is nothing to gain: the worker would only take turns with the kernel.
    Setting the environment variable COURSE_UTILS_STATS_WORKER=0 keeps it off (a hub short of memory, say).
    """
    global _worker, _starts
    if (_worker is None or _worker.broken) and _starts < MAX_STARTS:
        _starts += 1
        try:
            if (available_cores() < 2 or not hasattr(os, "memfd_create")
                    or os.environ.get("COURSE_UTILS_STATS_WORKER") == "0"):
                _starts = MAX_STARTS
                return None
            _worker = StatsWorker()
        except Exception:  # noqa: BLE001  no second process here (a sandbox, no subprocess)
            _starts, _worker = MAX_STARTS, None
    return _worker if _worker is not None and not _worker.broken else None


def running() -> StatsWorker | None:
    """The worker if it is ready to take work now, else None (it is starting, or it could not start, or died)."""
    worker = start()
    return worker if worker is not None and worker.ready() else None


if __name__ == "__main__":
    from course_utils import stats_worker  # the module fast_stats uses, not this copy run as __main__

    try:
        stats_worker.serve(Connection(int(sys.argv[1])))
    except OSError:  # the kernel went away while an answer was being sent
        pass
