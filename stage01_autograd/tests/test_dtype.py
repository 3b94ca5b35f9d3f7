"""dtype policy: float32 in, float32 out, gradients included; a Python number never upcasts a
float32 tensor (tensor.scalar_array). float64 works throughout, for gradient checks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import numpygpt.autograd as ag
from numpygpt.autograd import Function, Tensor

pytestmark = pytest.mark.dtype


class Probe(Function):
    """y = x, remembering the dtype of the gradient the op after it sent back.

    A leaf's .grad is cast to the leaf's dtype on arrival, so looking at x.grad alone could not
    tell whether the op's backward itself stayed in float32; the probe sees it before that cast.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        self.grad_dtype = gy.dtype
        return gy


W = np.array([[0.5, -1.0], [2.0, 0.25], [1.5, 1.0]])

OPS: dict[str, Callable[[Tensor], Tensor]] = {
    "add_int": lambda x: x + 2,
    "radd_int": lambda x: 2 + x,
    "add_float": lambda x: x + 2.5,
    "radd_float": lambda x: 2.5 + x,
    "sub_float": lambda x: x - 1.5,
    "rsub_float": lambda x: 1.5 - x,
    "mul_float": lambda x: x * 3.0,
    "rmul_float": lambda x: 3.0 * x,
    "div_float": lambda x: x / 2.0,
    "rdiv_float": lambda x: 2.0 / x,
    "rdiv_int": lambda x: 1 / x,
    "neg": lambda x: -x,
    "pow_int": lambda x: x**2,
    "pow_float": lambda x: x**0.5,
    "rpow_float": lambda x: 2.5**x,
    "rpow_int": lambda x: 2**x,
    "matmul": lambda x: x @ Tensor(W.astype(x.dtype)),
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "sqrt": lambda x: x.sqrt(),
    "abs": lambda x: x.abs(),
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
    "maximum_float": lambda x: ag.maximum(x, 1.0),
    "rmaximum_float": lambda x: ag.maximum(1.0, x),
    "minimum_int": lambda x: ag.minimum(x, 1),
    "sum": lambda x: x.sum(1),
    "mean": lambda x: x.mean(),
    "max": lambda x: x.max(0, keepdim=True),
    "var": lambda x: x.var(1),
    "reshape": lambda x: x.reshape(-1),
    "transpose": lambda x: x.T,
    "expand": lambda x: x.expand(4, -1, -1),
    "getitem": lambda x: x[[1, 1], 1:],
    "cat": lambda x: ag.cat([x, x * 2], dim=1),
    "stack": lambda x: ag.stack([x, x]),
    "where_float": lambda x: ag.where(x > 1, x, 0.0),
    "rwhere_float": lambda x: ag.where(x > 1, 0.5, x),
    "cast_round_trip": lambda x: x.astype(np.float16).astype(x.dtype),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(OPS))
def test_dtype_is_kept_by_value_and_gradient(name: str, dtype: type) -> None:
    x = Tensor(np.array([[0.5, 1.5, 2.0], [1.2, 0.7, 3.0]], dtype=dtype), requires_grad=True)
    probe = Probe()
    y = OPS[name](probe(x))
    assert y.dtype == dtype
    y.backward(np.ones(y.shape, dtype=dtype))
    assert probe.grad_dtype == dtype
    assert x.grad.dtype == dtype


def test_python_numbers_keep_the_dtype_of_the_tensor_they_meet() -> None:
    assert (Tensor([1.0]) * 2.0).dtype == np.float32
    assert (Tensor(np.array([1.0])) * 2.0).dtype == np.float64
    assert (Tensor([1, 2]) * 2).dtype == Tensor([1, 2]).dtype  # int stays int
    assert Tensor([1.0, 2.0]).mean().dtype == np.float32


def test_mixed_tensor_dtypes_follow_numpy_promotion() -> None:
    y = Tensor([1.0], requires_grad=True) * Tensor(np.array([2.0]), requires_grad=True)
    assert y.dtype == np.float64


def test_gradient_of_a_float32_tensor_given_as_float64_array() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(np.array([1.0, 1.0]))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


# ----- NumPy scalars are numbers, as in PyTorch --------------------------------------------------
NUMPY_SCALARS = [np.float64(2.0), np.float32(2.0), np.float16(2.0), np.int64(2), np.int32(2), np.uint8(2)]
SCALAR_OPS: dict[str, Callable[[Tensor, object], Tensor]] = {
    "add": lambda x, s: x + s,
    "radd": lambda x, s: s + x,
    "sub": lambda x, s: x - s,
    "rsub": lambda x, s: s - x,
    "mul": lambda x, s: x * s,
    "rmul": lambda x, s: s * x,
    "div": lambda x, s: x / s,
    "rdiv": lambda x, s: s / x,
    "pow": lambda x, s: x**s,
    "rpow": lambda x, s: s**x,
    "maximum": lambda x, s: ag.maximum(x, s),
    "where": lambda x, s: ag.where(x > 1, x, s),
}


@pytest.mark.parametrize("scalar", NUMPY_SCALARS, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("name", list(SCALAR_OPS))
def test_numpy_scalars_act_as_the_python_numbers_they_hold(name: str, scalar: np.generic) -> None:
    """`np.float32(2) ** t` works and `t * np.float64(2)` stays float32: PyTorch treats a NumPy
    scalar as the Python number it holds, and so does every op here."""
    x = Tensor(np.array([[0.5, 1.5, 2.0]], dtype=np.float32), requires_grad=True)
    y, expected = SCALAR_OPS[name](x, scalar), SCALAR_OPS[name](x, scalar.item())
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, expected.data)
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_numpy_bools_and_comparisons_with_numpy_scalars() -> None:
    x = Tensor([0.5, 1.5])
    assert (x + np.bool_(True)).dtype == np.float32
    assert (x > np.float64(1.0)).tolist() == [False, True]
    assert (Tensor([1, 2]) * np.int8(3)).dtype == Tensor([1, 2]).dtype  # an int tensor stays int
