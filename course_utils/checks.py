"""Check hand-written gradients (stored in ``.g``) against what ``torch.autograd`` computes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class GradComparison:
    """How one tensor's hand-written gradient compares with autograd's."""

    name: str
    shape: tuple[int, ...]
    max_abs_diff: float
    tolerance: float
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when the gradient exists, has the right shape and is within tolerance."""
        return not self.problem and self.max_abs_diff <= self.tolerance

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        detail = self.problem or f"max |diff| {self.max_abs_diff:.1e} (tolerance {self.tolerance:.1e})"
        return f"{self.name:<6} {str(self.shape):<12} {detail:<46} {verdict}"


class GradCheck(list):
    """A list of ``GradComparison``; truthy only when every gradient matches."""

    def __bool__(self) -> bool:
        return len(self) > 0 and all(c.ok for c in self)

    def table(self) -> str:
        """One line per tensor: name, shape, largest difference, verdict."""
        return "\n".join(str(c) for c in self)

    def __repr__(self) -> str:
        good = sum(c.ok for c in self)
        return f"GradCheck: {good} of {len(self)} gradients match autograd"


def check_grads(loss_fn: Callable[..., Tensor], rtol: float = 1e-4, atol: float = 1e-6,
                verbose: bool = True, **tensors: Tensor) -> GradCheck:
    """Compare each tensor's ``.g`` with autograd's gradient of ``loss_fn(**tensors)`` and print a verdict.

    ``loss_fn`` receives fresh copies of the tensors that require grad, so the originals and their ``.g``
    are left alone. A tensor passes when max |g - grad| <= atol + rtol * max |grad|.
    """
    if not tensors:
        raise ValueError("check_grads needs at least one tensor, passed by name: check_grads(fn, w1=w1, ...)")
    copies = {}
    for name, t in tensors.items():
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise TypeError(f"check_grads: {name} must be a floating-point tensor, got {type(t).__name__}")
        copies[name] = t.detach().clone().requires_grad_(True)
    loss = loss_fn(**copies)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError(f"check_grads: loss_fn must return a single-number tensor, got {loss!r:.80}")
    loss.backward()
    result = GradCheck()
    for name, t in tensors.items():
        ref = copies[name].grad
        if ref is None:
            ref = torch.zeros_like(t)
        tol = atol + rtol * ref.abs().max().item()
        mine = getattr(t, "g", None)
        shape = tuple(t.shape)
        if mine is None:
            result.append(GradComparison(name, shape, float("nan"), tol, "no .g: the backward pass never set it"))
        elif tuple(mine.shape) != shape:
            result.append(GradComparison(name, shape, float("nan"), tol, f".g has shape {tuple(mine.shape)}"))
        else:
            diff = (mine.detach().to(ref.dtype) - ref).abs().max().item()
            result.append(GradComparison(name, shape, diff, tol))
    if verbose:
        print(result.table())
    return result
