"""Every Tensor op: its value against NumPy, and its gradient against central differences.

gradcheck (numpygpt/autograd/gradcheck.py) compares backward's vector-Jacobian product for a
random upstream gradient with central differences, in float64. Each case below is one op;
select one with `nox -s stage01 -- -k "gradcheck and matmul_batched"`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import numpygpt.autograd as ag
from numpygpt.autograd import Function, GradcheckError, Tensor, gradcheck
from numpygpt.autograd.exercises import check_value
from numpygpt.autograd.ops.elementwise import Mul
from numpygpt.autograd.ops.matmul import MatMul

pytestmark = pytest.mark.ops


def leaf(*shape: int, low: float = -2.0, high: float = 2.0, seed: int = 0) -> Tensor:
    """A float64 leaf with values drawn uniformly from [low, high)."""
    return Tensor(np.random.default_rng(seed).uniform(low, high, size=shape), requires_grad=True)


def nonzero(*shape: int, seed: int = 0) -> Tensor:
    """A float64 leaf whose values keep at least 0.2 away from 0 (relu, abs: kinks at 0)."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return Tensor(data, requires_grad=True)


def positive(*shape: int, seed: int = 0) -> Tensor:
    return leaf(*shape, low=0.5, high=2.0, seed=seed)


# (op under test, NumPy reference on the raw arrays, the inputs)
Case = tuple[Callable[..., Tensor], Callable[..., np.ndarray], Callable[[], list[Tensor]]]

CASES: dict[str, Case] = {
    "add": (lambda a, b: a + b, np.add, lambda: [leaf(3, 4), leaf(3, 4, seed=1)]),
    "sub": (lambda a, b: a - b, np.subtract, lambda: [leaf(3, 4), leaf(3, 4, seed=1)]),
    "mul": (lambda a, b: a * b, np.multiply, lambda: [leaf(3, 4), leaf(3, 4, seed=1)]),
    "div": (lambda a, b: a / b, np.divide, lambda: [leaf(3, 4), nonzero(3, 4, seed=1)]),
    "mul_same_tensor_twice": (lambda a: a * a, lambda a: a * a, lambda: [leaf(5)]),
    "neg": (lambda x: -x, np.negative, lambda: [leaf(2, 3)]),
    "pow_int": (lambda x: x**3, lambda x: x**3, lambda: [leaf(2, 3)]),
    "pow_fraction": (lambda x: x**2.5, lambda x: x**2.5, lambda: [positive(2, 3)]),
    "pow_negative": (lambda x: x**-1.5, lambda x: x**-1.5, lambda: [positive(2, 3)]),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, lambda: [leaf(2, 3)]),
    "rpow_base_below_one": (lambda x: 0.5**x, lambda x: 0.5**x, lambda: [leaf(2, 3)]),
    "matmul_2d": (lambda a, b: a @ b, np.matmul, lambda: [leaf(3, 4), leaf(4, 5, seed=1)]),
    "matmul_batched": (lambda a, b: a @ b, np.matmul, lambda: [leaf(2, 3, 4), leaf(2, 4, 5, seed=1)]),
    "matmul_broadcast_batch": (
        lambda a, b: a @ b,
        np.matmul,
        lambda: [leaf(2, 1, 3, 4), leaf(3, 4, 2, seed=1)],
    ),
    "matmul_vector_left": (lambda a, b: a @ b, np.matmul, lambda: [leaf(4), leaf(4, 5, seed=1)]),
    "matmul_vector_right": (lambda a, b: a @ b, np.matmul, lambda: [leaf(3, 4), leaf(4, seed=1)]),
    "matmul_vector_vector": (lambda a, b: a @ b, np.matmul, lambda: [leaf(4), leaf(4, seed=1)]),
    "matmul_vector_batched": (lambda a, b: a @ b, np.matmul, lambda: [leaf(4), leaf(2, 4, 3, seed=1)]),
    "matmul_batched_vector": (lambda a, b: a @ b, np.matmul, lambda: [leaf(2, 3, 4), leaf(4, seed=1)]),
    "matmul_function": (ag.matmul, np.matmul, lambda: [leaf(3, 4), leaf(4, 2, seed=1)]),
    "exp": (lambda x: x.exp(), np.exp, lambda: [leaf(2, 3)]),
    "log": (lambda x: x.log(), np.log, lambda: [positive(2, 3)]),
    "tanh": (lambda x: x.tanh(), np.tanh, lambda: [leaf(2, 3)]),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, lambda: [positive(2, 3)]),
    "abs": (lambda x: x.abs(), np.abs, lambda: [nonzero(2, 3)]),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0), lambda: [nonzero(2, 3)]),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), lambda: [leaf(2, 3, low=-6, high=6)]),
    "maximum": (ag.maximum, np.maximum, lambda: [leaf(3, 4), leaf(3, 4, seed=1)]),
    "minimum": (ag.minimum, np.minimum, lambda: [leaf(3, 4), leaf(3, 4, seed=1)]),
    "sum_all": (lambda x: x.sum(), np.sum, lambda: [leaf(2, 3, 4)]),
    "sum_dim": (lambda x: x.sum(1), lambda x: x.sum(1), lambda: [leaf(2, 3, 4)]),
    "sum_dims_keepdim": (
        lambda x: x.sum((0, 2), keepdim=True),
        lambda x: x.sum((0, 2), keepdims=True),
        lambda: [leaf(2, 3, 4)],
    ),
    "sum_negative_dim": (lambda x: x.sum(-1), lambda x: x.sum(-1), lambda: [leaf(2, 3, 4)]),
    "mean_all": (lambda x: x.mean(), np.mean, lambda: [leaf(2, 3, 4)]),
    "mean_dims": (lambda x: x.mean((0, -1)), lambda x: x.mean((0, 2)), lambda: [leaf(2, 3, 4)]),
    "mean_dim_keepdim": (
        lambda x: x.mean(1, keepdim=True),
        lambda x: x.mean(1, keepdims=True),
        lambda: [leaf(2, 3, 4)],
    ),
    "max_all": (lambda x: x.max(), np.max, lambda: [leaf(2, 3, 4)]),
    "max_dims": (lambda x: x.max((1, 2)), lambda x: x.max((1, 2)), lambda: [leaf(2, 3, 4)]),
    "max_dim_keepdim": (
        lambda x: x.max(-1, keepdim=True),
        lambda x: x.max(-1, keepdims=True),
        lambda: [leaf(2, 3, 4)],
    ),
    "var_all": (lambda x: x.var(), lambda x: x.var(ddof=1), lambda: [leaf(2, 3, 4)]),
    "var_dims_keepdim": (
        lambda x: x.var((0, 2), keepdim=True),
        lambda x: x.var((0, 2), ddof=1, keepdims=True),
        lambda: [leaf(2, 3, 4)],
    ),
    "var_biased": (lambda x: x.var(-1, correction=0), lambda x: x.var(-1), lambda: [leaf(2, 3, 4)]),
    "reshape": (lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6), lambda: [leaf(2, 3, 4)]),
    "reshape_tuple_infer": (
        lambda x: x.reshape((3, -1)),
        lambda x: x.reshape(3, -1),
        lambda: [leaf(2, 3, 4)],
    ),
    "view": (lambda x: x.view(-1), lambda x: x.reshape(-1), lambda: [leaf(2, 3, 4)]),
    "transpose": (lambda x: x.transpose(0, 2), lambda x: x.swapaxes(0, 2), lambda: [leaf(2, 3, 4)]),
    "permute": (lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), lambda: [leaf(2, 3, 4)]),
    "T": (lambda x: x.T, lambda x: x.T, lambda: [leaf(3, 5)]),
    "expand": (lambda x: x.expand(2, -1, 4), lambda x: np.broadcast_to(x, (2, 3, 4)), lambda: [leaf(3, 1)]),
    "broadcast_to": (
        lambda x: x.broadcast_to((2, 3, 4)),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        lambda: [leaf(1, 4)],
    ),
    "sum_to": (lambda x: ag.sum_to(x, (3, 1)), lambda x: x.sum((0, 2))[:, None], lambda: [leaf(2, 3, 4)]),
    "getitem_slices": (lambda x: x[1:, ::2], lambda x: x[1:, ::2], lambda: [leaf(3, 5)]),
    "getitem_int_ellipsis_none": (
        lambda x: x[..., 1, None],
        lambda x: x[..., 1, None],
        lambda: [leaf(2, 3, 4)],
    ),
    "getitem_repeated_indices": (lambda x: x[[0, 2, 0, 0]], lambda x: x[[0, 2, 0, 0]], lambda: [leaf(3, 4)]),
    "getitem_index_array_and_slice": (
        lambda x: x[np.array([[0, 1], [1, 1]]), 1:],
        lambda x: x[np.array([[0, 1], [1, 1]]), 1:],
        lambda: [leaf(3, 4)],
    ),
    "getitem_two_index_arrays": (
        lambda x: x[[0, 0, 2], [1, 1, 3]],
        lambda x: x[[0, 0, 2], [1, 1, 3]],
        lambda: [leaf(3, 4)],
    ),
    "getitem_tensor_index": (
        lambda x: x[Tensor(np.array([3, 3, 0]))],
        lambda x: x[np.array([3, 3, 0])],
        lambda: [leaf(4, 2)],
    ),
    "getitem_bool_mask": (
        lambda x: x[np.array([True, False, True])],
        lambda x: x[np.array([True, False, True])],
        lambda: [leaf(3, 2)],
    ),
    "cat": (
        lambda a, b: ag.cat([a, b], dim=1),
        lambda a, b: np.concatenate([a, b], axis=1),
        lambda: [leaf(2, 3), leaf(2, 4, seed=1)],
    ),
    "concat_negative_dim": (
        lambda a, b, c: ag.concat([a, b, c], dim=-2),
        lambda a, b, c: np.concatenate([a, b, c], axis=-2),
        lambda: [leaf(2, 1, 3), leaf(2, 2, 3, seed=1), leaf(2, 3, 3, seed=2)],
    ),
    "stack": (
        lambda a, b: ag.stack([a, b]),
        lambda a, b: np.stack([a, b]),
        lambda: [leaf(2, 3), leaf(2, 3, seed=1)],
    ),
    "stack_last_dim": (
        lambda a, b: ag.stack([a, b], dim=-1),
        lambda a, b: np.stack([a, b], axis=-1),
        lambda: [leaf(2, 3), leaf(2, 3, seed=1)],
    ),
    "where": (
        lambda a, b: ag.where(Tensor(np.array([[True, False, True], [False, False, True]])), a, b),
        lambda a, b: np.where(np.array([[True, False, True], [False, False, True]]), a, b),
        lambda: [leaf(2, 3), leaf(2, 3, seed=1)],
    ),
    "where_broadcast": (
        lambda a, b: ag.where(np.array([True, False, True]), a, b),
        lambda a, b: np.where(np.array([True, False, True]), a, b),
        lambda: [leaf(2, 1), leaf(1, 3, seed=1)],
    ),
    # NOTE: the round trip through float32 is exact for the backward but not for central
    # differences, so the cast cases use a wider step (see test_cast_gradient_* below).
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_matches_numpy(name: str) -> None:
    fn, ref, make = CASES[name]
    xs = make()
    out = fn(*xs)
    expected = ref(*[x.data for x in xs])
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name: str) -> None:
    fn, _, make = CASES[name]
    try:
        gradcheck(fn, *make())
    except GradcheckError as e:
        raise AssertionError(f"the backward of {name} disagrees with central differences: {e}") from e


@pytest.mark.parametrize(
    "fn",
    [lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a @ b, lambda a, b: ag.maximum(a, b)],
    ids=["mul", "div", "matmul", "maximum"],
)
def test_gradcheck_with_a_constant_input(fn: Callable[..., Tensor]) -> None:
    # The second input does not require grad: backward may skip it (needs_input_grad) and
    # must leave its .grad alone.
    a, b = leaf(3, 3), Tensor(np.random.default_rng(1).uniform(0.5, 2.0, (3, 3)))
    assert gradcheck(fn, a, b)
    fn(a, b).sum().backward()
    assert a.grad is not None and b.grad is None


def backward_of(f: Function, *inputs: Tensor, seed: int = 2) -> tuple[np.ndarray, tuple[Tensor | None, ...]]:
    """Call Function f on inputs, then f.backward itself (no engine) with a random gy: (gy, gradients)."""
    y = f(*inputs)
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    grads = f.backward(Tensor(gy))
    return gy, grads if isinstance(grads, tuple) else (grads,)


@pytest.mark.ex1_5
def test_mul_backward_by_hand() -> None:
    a, b = leaf(2, 3), leaf(2, 3, seed=1)
    gy, (ga, gb) = backward_of(Mul(), a, b)
    assert ga is not None and gb is not None, "Mul.backward returned None for an input that requires grad"
    swapped = "the gradients of a and b are swapped: d(a*b)/da is b, and d(a*b)/db is a"
    no_gy = "gy is missing: by the chain rule the local derivative is multiplied by the upstream gradient gy"
    what = "Mul.backward's gradient of {} (a and b of the same shape)"
    check_value(ga.data, gy * b.data, what.format("a"), {swapped: gy * a.data, no_gy: b.data})
    check_value(gb.data, gy * a.data, what.format("b"), {swapped: gy * b.data, no_gy: a.data})
    # b of shape (3,) broadcast over a's two rows: its gradient is summed back to (3,)
    c = leaf(3, seed=3)
    gy, (_, gc) = backward_of(Mul(), a, c)
    assert gc is not None, "Mul.backward returned None for an input that requires grad"
    check_value(
        gc.data,
        (gy * a.data).sum(0),
        "Mul.backward's gradient of b of shape (3,), broadcast to (2, 3)",
        {
            "it keeps the broadcast shape (2, 3): b was used once per row, so sum its gradient back to b's "
            "shape (sum_to)": gy * a.data,
        },
    )


@pytest.mark.ex1_7
def test_matmul_backward_by_hand() -> None:
    a, b = leaf(2, 3, 4), leaf(4, 5, seed=1)  # b is used by both matrices of a's batch
    try:
        gy, (ga, gb) = backward_of(MatMul(), a, b)
    except ValueError as e:
        raise AssertionError(
            f"MatMul.backward raised {e}: gy is (..., n, m), a is (..., n, k) and b (..., k, m); only one "
            "product of gy with a transposed operand has each input's shape (_mT swaps the last two dimensions)"
        ) from e
    assert ga is not None and gb is not None, "MatMul.backward returned None for an input that requires grad"
    gb_batch = a.data.swapaxes(-1, -2) @ gy  # (2, 4, 5): one gradient of b per matrix of the batch
    check_value(ga.data, gy @ b.data.T, "MatMul.backward's gradient of a (2, 3, 4)")
    check_value(
        gb.data,
        gb_batch.sum(0),
        "MatMul.backward's gradient of b (4, 5), used by both matrices of a's batch (2, 3, 4)",
        {
            "it keeps the batch dimension (2, 4, 5): b was used by every matrix of the batch, so sum its "
            "gradient over the batch dimensions broadcasting added (sum_to)": gb_batch,
        },
    )


def test_repeated_indices_accumulate() -> None:
    x = Tensor(np.zeros(4), requires_grad=True)
    x[[0, 0, 3, 0]].sum().backward()
    check_value(
        x.grad.data,
        [3.0, 0.0, 0.0, 1.0],
        "the gradient of x[[0, 0, 3, 0]].sum()",
        {"a repeated index kept one use's gradient: each use of x[0] adds its share (np.add.at)": [1.0, 0, 0, 1.0]},
    )


def test_max_ties_share_the_gradient() -> None:
    x = Tensor(np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 0.0, 0.0, 0.0]]), requires_grad=True)
    x.max(dim=1).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5, 0], [10, 0, 0, 0]])


def test_maximum_minimum_ties_share_the_gradient() -> None:
    a = Tensor(np.array([1.0, 2.0, 0.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 0.0, 4.0]), requires_grad=True)
    ag.maximum(a, b).backward(np.ones(3))
    np.testing.assert_array_equal(a.grad.data, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.0, 1.0])
    a.grad = b.grad = None
    ag.minimum(a, b).backward(np.ones(3))
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1.0, 0.0])


def test_relu_and_abs_have_zero_gradient_at_zero() -> None:
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().backward(np.ones(3))
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])
    x.grad = None
    x.abs().backward(np.ones(3))
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.0, 1.0])


def test_cast_gradient_float64_to_float32_and_back() -> None:
    # float32 rounding (~1e-7 relative) swamps a step of 1e-6, so this check takes eps=1e-3.
    assert gradcheck(lambda x: (x.astype(np.float32) * 3.0).double().exp(), leaf(2, 3), eps=1e-3, atol=1e-3)


def test_cast_gradient_has_the_input_dtype() -> None:
    x = leaf(3)
    y = x.float()
    assert y.dtype == np.float32 and y.creator is not None and y.creator.name == "Cast"
    # Cast.backward itself returns the input's dtype (not only the leaf's .grad, which is cast on arrival)
    assert y.creator.backward(Tensor(np.ones(3, dtype=np.float32))).dtype == np.float64
    y.backward(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0, 3.0])
    assert x.astype(np.float64) is x  # a cast to the same dtype records nothing


@pytest.mark.parametrize(
    "op, ref",
    [
        (lambda a, b: a < b, np.less),
        (lambda a, b: a <= b, np.less_equal),
        (lambda a, b: a > b, np.greater),
        (lambda a, b: a >= b, np.greater_equal),
        (lambda a, b: a == b, np.equal),
        (lambda a, b: a != b, np.not_equal),
    ],
    ids=["lt", "le", "gt", "ge", "eq", "ne"],
)
def test_comparisons_return_bool_tensors_without_gradient(op: Callable, ref: Callable) -> None:
    a = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    b = Tensor(np.array([[2.0], [3.0]]), requires_grad=True)
    out = op(a, b)
    assert out.dtype == np.bool_ and not out.requires_grad and out.creator is None
    np.testing.assert_array_equal(out.data, ref(a.data, b.data))
    np.testing.assert_array_equal(op(a, 2.0).data, ref(a.data, 2.0))


def test_where_with_a_comparison_mask() -> None:
    # The masked selection of the issue: keep x where it is positive, else 0.
    x = Tensor(np.array([-1.0, 2.0, -3.0, 4.0]), requires_grad=True)
    y = ag.where(x > 0, x, 0.0)
    np.testing.assert_array_equal(y.data, [0.0, 2.0, 0.0, 4.0])
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 0.0, 4.0])


def test_sigmoid_of_an_integer_tensor() -> None:
    np.testing.assert_allclose(ag.sigmoid(Tensor([0, 2])).data, [0.5, 1 / (1 + np.exp(-2))], rtol=1e-6)
