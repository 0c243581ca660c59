"""What one student costs a shared machine: memory of a kernel that ran notebook 01, CPU while dragging the slider.

Run: .venv/bin/python benchmarks/student_cost.py [--changes N]
Starts a fresh kernel, measures it idle (the baseline, same run), runs notebook 01 top to bottom (its explorer
included), measures again, then moves the explorer's weight-scale slider N steps in the kernel as a drag does
(each step recomputes both curves and renders the PNG that is sent to the browser) and reads the kernel
process's CPU time. Also starts one idle Jupyter server, the other process each student has on a hub.
Prints the figures and what they mean for a machine's size; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_initialization.ipynb"
MB = 1024 * 1024
# One slider step up and back down, as a drag back and forth does, from the notebook's last setting.
DRAG = """
import time
start_cpu, start = time.process_time(), time.perf_counter()
for i in range({n}):
    explorer.scale.value = explorer.scale.value * (10 ** 0.01 if (i // 10) % 2 == 0 else 10 ** -0.01)
print(time.process_time() - start_cpu, time.perf_counter() - start)
"""


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / MB


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process and any children it started."""
    process = psutil.Process(pid)
    return sum(t.user + t.system for t in (p.cpu_times() for p in [process, *process.children(recursive=True)]))


def run_code(km: KernelManager, code: str) -> str:
    """Execute code in the kernel and return what it printed."""
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        printed = []
        reply = client.execute_interactive(code, timeout=600,
                                           output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(printed)
    finally:
        client.stop_channels()


def kernel_cost(changes: int) -> dict[str, float]:
    """Memory idle and after notebook 01, and CPU per slider step, of one kernel."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(NOTEBOOK.parent))
    try:
        pid = km.provisioner.pid
        run_code(km, "1")
        idle = rss_mb(pid)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        start = time.perf_counter()
        for cell in nb.cells:
            if cell.cell_type == "code":
                run_code(km, cell.source)
        notebook_s = time.perf_counter() - start
        after = rss_mb(pid)
        before_cpu = cpu_seconds(pid)
        in_kernel_cpu, wall = map(float, run_code(km, DRAG.format(n=changes)).split())
        process_cpu = cpu_seconds(pid) - before_cpu
        return {"idle_mb": idle, "after_mb": after, "notebook_s": notebook_s,
                "cpu_ms_per_step": 1000 * process_cpu / changes, "wall_ms_per_step": 1000 * wall / changes,
                "in_kernel_cpu_ms_per_step": 1000 * in_kernel_cpu / changes}
    finally:
        km.shutdown_kernel(now=True)


def server_mb() -> float:
    """Memory of one idle Jupyter server (no kernel), as each student's single-user server is."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           "--ServerApp.jpserver_extensions=notebook_shim=False"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with tempfile.TemporaryDirectory() as runtime:
        server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "JUPYTER_RUNTIME_DIR": runtime},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(240):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=30).close()
            return rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100, help="slider steps to time (default 100)")
    args = parser.parse_args()
    kernel = kernel_cost(args.changes)
    server = server_mb()
    student = kernel["after_mb"] + server
    print(f"kernel, idle (baseline):              {kernel['idle_mb']:7.0f} MB")
    print(f"kernel after notebook 01 + explorer:  {kernel['after_mb']:7.0f} MB "
          f"(+{kernel['after_mb'] - kernel['idle_mb']:.0f} MB; notebook ran in {kernel['notebook_s']:.1f} s)")
    print(f"Jupyter server, idle:                 {server:7.0f} MB")
    print(f"one student (server + kernel):        {student:7.0f} MB")
    print(f"one slider step: {kernel['cpu_ms_per_step']:.1f} ms CPU in the kernel "
          f"({kernel['in_kernel_cpu_ms_per_step']:.1f} ms in its main thread), "
          f"{kernel['wall_ms_per_step']:.1f} ms wall")
    # A drag sends one step per slider position it crosses; 20 a second is a brisk drag.
    print(f"a drag at 20 steps/s keeps {kernel['cpu_ms_per_step'] * 20 / 1000:.2f} cores busy")
    for gib in (8, 16, 32, 64):
        usable = gib * 1024 - 2048  # leave 2 GB for the system, the hub and its proxy
        print(f"{gib:3d} GB machine: about {usable / student:.0f} students by memory")


if __name__ == "__main__":
    main()
