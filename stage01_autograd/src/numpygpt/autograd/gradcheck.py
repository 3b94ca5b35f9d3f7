"""gradcheck: is a backward pass right? Compare it with central differences, in float64.

For y = f(x) and an upstream gradient g of y's shape, backward computes the
vector-Jacobian product  g^T J, i.e. d(sum(g * y))/dx.  Central differences estimate the same
number for each element of x:

    d(sum(g * f(x)))/dx_j  ~=  [sum(g * f(x + eps e_j)) - sum(g * f(x - eps e_j))] / (2 eps)

NOTE: g is random. With g = 1 (the gradient of sum(y)) a backward that is wrong in a way
that leaves every column sum of J unchanged would pass: softmax's rows sum to 1, so
d(sum(softmax(x)))/dx is 0 whatever the backward does.

NOTE: g is also independent of the inputs. It comes from a random stream of its own, keyed by
`seed` and UPSTREAM_STREAM: with default_rng(seed) itself, a test drawing its input with the same
seed would get g exactly proportional to x, and for an op invariant to scaling its input (layer
norm) the true gradient along x is 0, so a backward wrong along x would pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .checks import check_bool, check_callable, check_int, check_real, show
from .mode import no_grad
from .tensor import Tensor

UPSTREAM_STREAM = 0x6772_6164  # keys the upstream gradient's random stream apart from default_rng(seed)


class GradcheckError(RuntimeError):
    """A backward pass disagrees with central differences."""


def _outputs(out: Any, op: str) -> tuple[Tensor, ...]:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{op}: fn must return Tensors, got {type(o).__name__}")
    return tuple(outs)


def _check_eps(op: str, eps: float) -> None:
    if check_real(op, "eps", eps, min=0.0) == 0:
        raise ValueError(f"{op}: eps must be > 0, got 0 (the difference quotient divides by 2 eps)")


def _check_inputs(op: str, inputs: Sequence[Tensor]) -> None:
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"{op}: inputs must be a list or tuple of Tensors, got {show(inputs)}")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: inputs must be Tensors, got {show(x)} as input {i}")


def numerical_vjp(
    fn: Callable[..., Any], inputs: Sequence[Tensor], grads: Sequence[np.ndarray], eps: float = 1e-6
) -> list[np.ndarray | None]:
    """d(sum_k sum(grads[k] * fn(*inputs)[k]))/d(input) by central differences, for each input
    that requires grad (None for the others). Each element is nudged by ±eps in place and put back.
    """

    def objective() -> float:
        with no_grad():
            outs = _outputs(fn(*inputs), "numerical_vjp")
        if [o.shape for o in outs] != [g.shape for g in grads]:
            raise ValueError(
                f"numerical_vjp: grads must be one array per output of fn, of its shape: the outputs have shapes "
                f"{[o.shape for o in outs]}, the grads {[g.shape for g in grads]}"
            )
        return float(sum(np.sum(o.data.astype(np.float64) * g) for o, g in zip(outs, grads, strict=True)))

    check_callable("numerical_vjp", "fn", fn)
    _check_inputs("numerical_vjp", inputs)
    _check_eps("numerical_vjp", eps)
    try:
        grads = [np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64) for g in grads]
    except (ValueError, TypeError) as e:
        raise TypeError(f"numerical_vjp: grads must be arrays of numbers, one per output of fn ({e})") from None
    result: list[np.ndarray | None] = []
    for x in inputs:
        if not x.requires_grad:
            result.append(None)
            continue
        # exercise 1.3: numerical_vjp: estimate d(sum(g * fn(x)))/dx for every element of x by finite differences
        g = np.zeros(x.shape, dtype=np.float64)
        # NOTE: index x.data itself: x.data.reshape(-1) would be a copy for a non-contiguous
        # array (a transpose), and nudging the copy would leave x unchanged.
        for j in np.ndindex(x.shape):
            orig = x.data[j]
            x.data[j] = orig + eps
            f_plus = objective()
            x.data[j] = orig - eps
            f_minus = objective()
            x.data[j] = orig
            g[j] = (f_plus - f_minus) / (2 * eps)
        result.append(g)
        # end exercise 1.3
    return result


def gradcheck(
    fn: Callable[..., Any],
    *inputs: Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check backward of `fn(*inputs)` against central differences for a random upstream gradient.

    Args:
        fn: a function of Tensors returning a Tensor (or a tuple of Tensors).
        inputs: Tensors; those with requires_grad=True are checked and must be float64.
        eps: the finite-difference step.
        atol, rtol: an element passes when |backward - numeric| <= atol + rtol * |numeric|.
        seed: seed of the random upstream gradient (its stream never repeats default_rng(seed)'s draws).
        raise_exception: raise GradcheckError on failure (default) instead of returning False.
    Returns:
        True when every checked input's gradient agrees.
    """
    check_callable("gradcheck", "fn", fn)
    _check_inputs("gradcheck", inputs)
    _check_eps("gradcheck", eps)
    # NOTE: a NaN tolerance would pass every gradient (NaN compares false), so it is refused.
    check_real("gradcheck", "atol", atol, min=0.0)
    check_real("gradcheck", "rtol", rtol, min=0.0)
    check_int("gradcheck", "seed", seed, min=0)
    check_bool("gradcheck", "raise_exception", raise_exception)
    checked = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; central differences need "
                f"float64 inputs (float32 rounding swamps a difference of eps={eps})"
            )
    rng = np.random.default_rng([seed, UPSTREAM_STREAM])
    outs = _outputs(fn(*inputs), "gradcheck")
    grads = [rng.standard_normal(o.shape) for o in outs]

    saved = [x.grad for x in inputs]
    for x in inputs:
        x.grad = None
    try:
        for o, g in zip(outs, grads, strict=True):
            if o.requires_grad:
                o.backward(Tensor(g.astype(o.dtype)))
        analytic = [x.grad.data if x.grad is not None else None for x in inputs]
    finally:
        for x, s in zip(inputs, saved, strict=True):
            x.grad = s
    numeric = numerical_vjp(fn, inputs, grads, eps)

    for i in checked:
        num = numeric[i]
        assert num is not None, f"gradcheck: input {i} requires grad, so numerical_vjp computed its gradient"
        ana = analytic[i]
        if ana is None:
            ana = np.zeros_like(num)
            if np.allclose(num, 0, atol=atol):
                continue
            msg = f"gradcheck: input {i} (shape {inputs[i].shape}) received no gradient, but its numerical gradient is not zero"
            return _fail(msg, raise_exception)
        err = np.abs(ana - num) - (atol + rtol * np.abs(num))
        if (err > 0).any() or not np.isfinite(ana).all():
            k = np.unravel_index(np.nanargmax(np.where(np.isfinite(err), err, np.inf)), num.shape)
            msg = (
                f"gradcheck: the gradient of input {i} (shape {inputs[i].shape}) is wrong; worst "
                f"element at index {tuple(int(v) for v in k)}: backward gave {ana[k]:.8g}, central "
                f"differences give {num[k]:.8g} (atol={atol}, rtol={rtol}, "
                f"{int((err > 0).sum())} of {num.size} elements off)"
            )
            return _fail(msg, raise_exception)
    return True


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False
