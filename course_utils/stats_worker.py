"""A second process for the explorer's float32 numbers: it measures layers while the kernel computes the next
ones, and computes ahead the settings that the next key press will ask for.

Measuring a layer (its std, its histogram, its saturated and dead units) costs about as much as computing
it. A thread cannot take that work off the kernel: both threads need Python's lock for every small
operation, and handing it back and forth costs most of what the thread saves. A process has a lock of its
own. It reads the layers from buffers in shared memory, so only a few numbers travel each way.

Between changes the worker computes ahead: the kernel names the settings the next change may ask for (one
slider step either way, the presets), and once the kernel has sent nothing for ``QUIET_S`` the worker
computes them in order until a new message arrives (then it drops the rest and answers that). During a
drag nothing is computed ahead: it would not be used.

The process (``python -m course_utils.stats_worker``: it never imports the caller's script, as
multiprocessing's spawn would) starts in the background in about 2 s, costs about 170 MB of memory of
its own (250 MB resident, part of it torch's libraries shared with the kernel), and is used once it says
it is ready. Where it cannot start (one core, not Linux, or COURSE_UTILS_STATS_WORKER=0), or dies,
``running()`` returns None and the caller does the work itself.
"""

from __future__ import annotations

import math
import mmap
import os
import signal
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
    is killed; it is handed to the worker as file descriptors over the pipe.
    """

    def __init__(self, shapes: dict[str, tuple[int, ...]]) -> None:
        self.shapes, self.handles = shapes, {}
        self.tensors: dict[str, Tensor] = {}
        for name, shape in shapes.items():
            if not IN_WORKER and hasattr(os, "memfd_create"):
                try:
                    handle = os.memfd_create(f"course-utils-{name}")
                    # Reserve the memory now: a mapped page with no room behind it would kill the kernel on write.
                    os.posix_fallocate(handle, 0, 4 * math.prod(shape))
                except OSError:
                    pass
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
            for i, key in enumerate(keys):
                started = time.perf_counter()
                result = _arrays(fn, *key, interrupted=conn.poll)
                if result is None and conn.poll():  # interrupted: the kernel wants something else now
                    conn.send(("dropped", request, keys[i:]))
                    break
                conn.send(("ahead", request, key, result, time.perf_counter() - started))


class WorkerGone(Exception):
    """The worker process ended or its pipe broke: compute here instead."""


class StatsWorker:
    """The kernel's side of the worker: share buffers, send slices to measure and settings to compute ahead."""

    def __init__(self) -> None:
        # A fresh interpreter: forking a kernel, which runs several threads, is unsafe.
        mine, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with theirs:
            self.process = subprocess.Popen([sys.executable, "-m", __name__, str(theirs.fileno())],
                                            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        self.conn = Connection(mine.detach())
        self.is_ready, self.broken = False, False
        self.shared: SharedBuffers | None = None
        self.pending = 0                                      # slices sent and not yet answered
        self.measured: dict[tuple[str, int], Numbers | None] = {}
        self.request = 0                                      # the latest look-ahead request
        self.wanted: list[Hashable] = []                      # its keys not yet answered, in the worker's order
        self.head_since = 0.0                                 # when the worker began on wanted[0]
        self.seconds: dict[Hashable, float] = {}              # how long its last setting of each kind took
        self.ahead: OrderedDict[Hashable, Numbers] = OrderedDict()  # computed ahead, not yet used
        self.counts = {"measured": 0, "ahead used": 0}        # for tests and benchmarks

    def ready(self) -> bool:
        """True once the process has started and nothing broke; never waits."""
        if not self.is_ready and not self.broken:
            self._receive(block=False)
        return self.is_ready and not self.broken and self.process.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait up to ``timeout`` seconds for the process to start; True if it is ready."""
        if not self.is_ready and not self.broken:
            try:
                self.conn.poll(timeout)
            except OSError:
                self.broken = True
        return self.ready()

    def _send(self, message: Any) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError) as err:  # a broken pipe, or a closed connection
            self.broken = True
            raise WorkerGone(str(err)) from err

    def _receive(self, block: bool) -> bool:
        """Handle one message from the worker (waiting for it if ``block``); False if there was none."""
        try:
            if not block and not self.conn.poll():
                return False
            message = self.conn.recv()
        except (EOFError, OSError):
            self.broken, self.pending, self.wanted = True, 0, []
            return False
        kind = message[0]
        if kind == "ready":
            self.is_ready = True
        elif kind == "measured":
            _, which, start, arrays = message
            self.pending -= 1
            self.measured[which, start] = None if arrays is None else tuple(torch.from_numpy(a) for a in arrays)
        elif kind == "ahead":
            _, request, key, arrays, seconds = message
            if arrays is not None:
                self.ahead[key] = tuple(torch.from_numpy(a) for a in arrays)
                self.seconds[key[1:]] = seconds
                while len(self.ahead) > 32:
                    self.ahead.popitem(last=False)
            if request == self.request and key in self.wanted:
                self.wanted.remove(key)
                self.head_since = time.perf_counter()
        elif kind == "dropped" and message[1] == self.request:
            self.wanted = [key for key in self.wanted if key not in message[2]]
        return True

    def share(self, buffers: SharedBuffers) -> None:
        """Have the worker map these buffers to read slices from (once per set of buffers)."""
        if not buffers.shareable:
            raise WorkerGone("these buffers are not in shared memory")
        if self.shared is not buffers:
            self._send(("share", buffers.shapes))
            try:
                for name in buffers.shapes:
                    send_handle(self.conn, buffers.handles[name], self.process.pid)
            except OSError as err:
                self.broken = True
                raise WorkerGone(str(err)) from err
            self.shared = buffers

    def submit(self, fn: Callable[..., Numbers], which: str, start: int, end: int, *args: Any) -> None:
        """Have the worker compute ``fn(buffers[which][start:end], *args)``; ``collect()`` returns the result."""
        self._send(("measure", fn, which, start, end, args))
        self.pending += 1

    def collect(self) -> dict[tuple[str, int], Numbers]:
        """Wait for every submitted slice; the results by (which, start). Slices that failed are left out."""
        while self.pending and not self.broken:
            self._receive(block=True)
        results = {key: numbers for key, numbers in self.measured.items() if numbers is not None}
        self.measured = {}
        self.counts["measured"] += len(results)
        return results

    def look_ahead(self, fn: Callable[..., Numbers | None], keys: Sequence[Hashable]) -> None:
        """Have the worker compute ``fn(*key, interrupted=...)`` for each key, in order, until a new message comes."""
        keys = [key for key in keys if key not in self.ahead]
        if not keys or keys == self.wanted:
            return
        self.request += 1
        self._send(("ahead", self.request, fn, keys))
        self.wanted, self.head_since = keys, time.perf_counter() + QUIET_S  # it begins after a quiet spell

    def take_ahead(self, key: Hashable, patience_s: float) -> Numbers | None:
        """The numbers computed ahead for ``key``: at once if they are in; if the worker is on them and should
        be done within ``patience_s`` seconds (judged by its last setting of the kind), after waiting."""
        while self._receive(block=False):
            pass
        if key not in self.ahead and self.wanted[:1] == [key]:
            left = self.seconds.get(key[1:], math.inf) - (time.perf_counter() - self.head_since)
            while left <= patience_s and key not in self.ahead and self.wanted[:1] == [key] and not self.broken:
                self._receive(block=True)
        numbers = self.ahead.pop(key, None)
        if numbers is not None:
            self.counts["ahead used"] += 1
        return numbers

    def stop(self) -> None:
        """End the process."""
        self.broken = True
        self.conn.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_worker: StatsWorker | None = None
_cannot_start = False


def start() -> StatsWorker | None:
    """Start the worker if it has not been started yet (it gets ready in the background); None if it cannot start.

    With a single core there is nothing to gain: the worker would only take turns with the kernel. Setting
    the environment variable COURSE_UTILS_STATS_WORKER=0 keeps it off (a hub short of memory, say).
    """
    global _worker, _cannot_start
    if _worker is None and not _cannot_start:
        try:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            if cores < 2 or not hasattr(os, "memfd_create") or os.environ.get("COURSE_UTILS_STATS_WORKER") == "0":
                raise RuntimeError("no second core, no memfd_create (not Linux), or turned off")
            _worker = StatsWorker()
        except Exception:  # noqa: BLE001  no second process here (one core, a sandbox, no spawn)
            _cannot_start = True
    return _worker


def running() -> StatsWorker | None:
    """The worker if it is ready to take work now, else None (it is starting, or it could not start, or died)."""
    worker = start()
    return worker if worker is not None and worker.ready() else None


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel's interrupt button signals its whole process group
    try:
        serve(Connection(int(sys.argv[1])))
    except OSError:  # the kernel went away while an answer was being sent
        pass
