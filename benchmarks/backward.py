"""Time one training step of the hand-written Model against PyTorch autograd on the identical two-layer net.

Run: .venv/bin/python benchmarks/backward.py [--reps N] [--threads T]
Each step is what notebook 06 trains with: ``model(x, y)``, ``model.backward()``, ``sgd_step`` on one side;
``net(x, y)``, ``loss.backward()``, ``torch.optim.SGD.step()`` on the other. Prints, per size, the median
time of each and the ratio hand-written / autograd (target: <= 1.10 on the large size), then the
chapter's point about Python speed: a matmul in pure Python loops vs `@`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from course_utils import Model, TwoLayerNet
from course_utils.timing import median_ms
from course_utils.training import init_params, sgd_step

SIZES = {"chapter (200 x 100 -> 50 -> 1)": (200, 100, 50), "large (4096 x 784 -> 256 -> 1)": (4096, 784, 256)}


def paired_medians_ms(a: Callable[[], object], b: Callable[[], object], reps: int, warmup: int = 5,
                      ) -> tuple[float, float]:
    """Median times (ms) of ``a`` and ``b``, timed alternately call by call so load changes hit both alike."""
    for _ in range(warmup):
        a()
        b()
    times_a, times_b = [], []
    for _ in range(reps):
        for fn, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times_a), 1000 * statistics.median(times_b)


# Small enough that hundreds of steps on random targets stay far from overflow.
LR = 1e-4


def compare_training_step(n: int, n_in: int, n_hidden: int, reps: int) -> tuple[float, float]:
    """Medians (ms) of one hand-written and one autograd training step, from identical weights and data."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, n_in, generator=gen), torch.randn(n, generator=gen)
    params = init_params(n_in, n_hidden)
    model = Model(*(p.clone() for p in params))
    net = TwoLayerNet.from_weights(*params)
    opt = torch.optim.SGD(net.parameters(), lr=LR)

    def by_hand() -> None:
        model(x, y)
        model.backward()
        sgd_step(model.parameters(), LR)

    def by_autograd() -> None:
        loss = net(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return paired_medians_ms(by_hand, by_autograd, reps)


def python_matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    """Matrix product with three Python loops, as a baseline for `@`."""
    rows, inner, cols = len(a), len(b), len(b[0])
    out = [[0.0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for k in range(inner):
                total += a[i][k] * b[k][j]
            out[i][j] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100, help="timed repetitions per variant (default 100)")
    # One thread by default, as in the notebooks (reproducible() sets it): on a shared machine, more threads
    # mostly measure what else is running.
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.reps} repetitions, medians\n")

    print("one training step (forward, backward, SGD update)")
    print(f"{'size':<32} {'hand-written':>13} {'autograd':>10} {'ratio':>7}")
    for label, (n, n_in, n_hidden) in SIZES.items():
        hand, auto = compare_training_step(n, n_in, n_hidden, args.reps)
        print(f"{label:<32} {hand:10.3f} ms {auto:7.3f} ms {hand / auto:7.3f}")
    print("target: ratio <= 1.10 on the large size\n")

    a, b = torch.randn(5, 784), torch.randn(784, 10)
    a_list, b_list = a.tolist(), b.tolist()
    loops = median_ms(lambda: python_matmul(a_list, b_list), reps=5, warmup=1)
    fast = median_ms(lambda: a @ b, reps=200)
    assert torch.allclose(torch.tensor(python_matmul(a_list, b_list)), a @ b, atol=1e-3)
    print("matmul (5 x 784) @ (784 x 10):")
    print(f"  pure Python loops {loops:10.3f} ms")
    print(f"  torch @           {fast:10.4f} ms")
    print(f"  ratio             {loops / fast:10.0f}x")


if __name__ == "__main__":
    main()
