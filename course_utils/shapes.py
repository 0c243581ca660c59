"""Input checks shared by the course's functions, so bad shapes fail loudly and say why."""

from __future__ import annotations

from torch import Tensor


def describe(t: Tensor) -> str:
    """Short description of a tensor for error messages: shape, dtype and device."""
    return f"shape {tuple(t.shape)}, dtype {t.dtype}, device {t.device}"


def check_tensor(name: str, t: object) -> None:
    """Raise TypeError unless ``t`` is a torch tensor."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")


def check_floating(name: str, t: object) -> None:
    """Raise TypeError unless ``t`` is a floating-point tensor (integer tensors have no gradients)."""
    check_tensor(name, t)
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {describe(t)}; try .float()")


def check_same_device(*tensors: Tensor) -> None:
    """Raise ValueError when the tensors live on different devices."""
    devices = {str(t.device) for t in tensors if isinstance(t, Tensor)}
    if len(devices) > 1:
        raise ValueError(f"all tensors must be on one device, got {sorted(devices)}")


def check_lin_shapes(x: Tensor, w: Tensor, b: Tensor) -> None:
    """Check that ``x @ w + b`` is a proper batch of affine maps, not an accidental broadcast."""
    for name, t in (("x", x), ("w", w), ("b", b)):
        check_floating(f"lin: {name}", t)
    check_same_device(x, w, b)
    if x.dim() != 2 or w.dim() != 2:
        raise ValueError(f"lin: x and w must be 2-D, got x {tuple(x.shape)} and w {tuple(w.shape)}")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"lin: x has {x.shape[1]} features per row but w expects {w.shape[0]} "
                         f"(x {tuple(x.shape)}, w {tuple(w.shape)})")
    if tuple(b.shape) != (w.shape[1],):
        raise ValueError(f"lin: b must have shape ({w.shape[1]},) to match w {tuple(w.shape)}, got {tuple(b.shape)}")
    if x.dtype != w.dtype or w.dtype != b.dtype:
        raise TypeError(f"lin: dtypes differ: x {x.dtype}, w {w.dtype}, b {b.dtype}")


def flat_pair(output: Tensor, targ: Tensor, where: str) -> tuple[Tensor, Tensor]:
    """Return predictions and targets as two vectors of length N, refusing anything that would broadcast."""
    check_floating(f"{where}: output", output)
    check_floating(f"{where}: targ", targ)
    check_same_device(output, targ)
    for name, t in (("output", output), ("targ", targ)):
        if not (t.dim() == 1 or (t.dim() == 2 and t.shape[1] == 1)):
            raise ValueError(f"{where}: {name} must have shape (N,) or (N, 1), got {tuple(t.shape)}")
    if output.shape[0] != targ.shape[0]:
        raise ValueError(f"{where}: output has {output.shape[0]} rows but targ has {targ.shape[0]} "
                         f"(output {tuple(output.shape)}, targ {tuple(targ.shape)})")
    # reshape, not squeeze(): squeeze() would also drop the batch dimension when N == 1.
    n = output.shape[0]
    return output.reshape(n), targ.reshape(n)


def require_grad_attr(t: Tensor, name: str, where: str) -> Tensor:
    """Return ``t.g``, or explain that the later layer's backward has to run first."""
    g = getattr(t, "g", None)
    if g is None:
        raise RuntimeError(f"{where}: {name}.g is missing; run the backward step of the layer after this one first")
    return g
