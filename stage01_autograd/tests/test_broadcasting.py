"""Broadcasting: an input stretched along an axis was used once per position there, so its
gradient is the upstream gradient summed over that axis (sum_to, in ops/shape.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import numpygpt.autograd as ag
from numpygpt.autograd import Tensor, gradcheck
from numpygpt.autograd.exercises import check_value
from numpygpt.autograd.ops.shape import _sum_to_array

pytestmark = pytest.mark.broadcasting


def reference_sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum g down to `shape` without sum_to's axis arithmetic: broadcast the flat index of each
    input element up to g's shape, then add every element of g into the input element it came from.
    """
    size = int(np.prod(shape, dtype=np.int64))
    source = np.broadcast_to(np.arange(size).reshape(shape), g.shape)
    return np.bincount(source.ravel(), weights=g.ravel(), minlength=size).reshape(shape)


BINARY: dict[str, tuple[Callable, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]] = {
    # op, and the local derivatives (da, db) of its output, at the broadcast shape
    "add": (lambda a, b: a + b, lambda a, b: (np.ones_like(a + b), np.ones_like(a + b))),
    "sub": (lambda a, b: a - b, lambda a, b: (np.ones_like(a + b), -np.ones_like(a + b))),
    "mul": (lambda a, b: a * b, lambda a, b: (b + 0 * a, a + 0 * b)),
    "div": (lambda a, b: a / b, lambda a, b: (1 / b + 0 * a, -a / b**2)),
    "maximum": (ag.maximum, lambda a, b: ((a > b) + 0.0 * b, (b > a) + 0.0 * a)),
    "minimum": (ag.minimum, lambda a, b: ((a < b) + 0.0 * b, (b < a) + 0.0 * a)),
    "where": (
        lambda a, b: ag.where(a > 0, a, b),
        lambda a, b: ((a > 0) + 0.0 * b, (a <= 0) + 0.0 * b),
    ),
}


@pytest.mark.parametrize(
    "shape, target",
    [((2, 3, 4), (3, 1)), ((2, 3, 4), (1, 4)), ((2, 3, 4), (4,)), ((2, 3), ()), ((2, 1, 4), (1, 1, 4))],
    ids=str,
)
@pytest.mark.ex1_6
def test_sum_to_array_undoes_broadcasting(shape: tuple, target: tuple) -> None:
    # _sum_to_array itself, without the engine: the reverse of broadcasting `target` up to `shape`.
    g = np.random.default_rng(0).standard_normal(shape)
    lead = g.ndim - len(target)
    try:
        got = _sum_to_array(g, target)
    except ValueError as e:
        if "cannot reshape" not in str(e):
            raise
        raise AssertionError(
            f"_sum_to_array(g of shape {shape}, {target}) raised {e}: the sum still has more elements than the "
            "target shape, so a dimension that broadcasting stretched from size 1 was not summed"
        ) from e
    check_value(
        got,
        reference_sum_to(g, target),
        f"_sum_to_array(g of shape {shape}, {target})",
        {
            f"only the {lead} leading dimension(s) broadcasting added were summed: sum also every dimension "
            "stretched from size 1 (keeping it, with size 1)": g.sum(axis=tuple(range(lead))),
            "the dimensions stretched from size 1 were summed away, not kept with size 1: the result must "
            "have exactly the target shape": np.squeeze(reference_sum_to(g, target)),
        },
    )


def test_reference_sum_to_is_the_sum_over_broadcast_axes() -> None:
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(reference_sum_to(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(reference_sum_to(g, ()), g.sum())


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(BINARY)),
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_binary_op_gradients_reduce_to_input_shapes(name, shapes, seed, dtype) -> None:
    op, local = BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(seed)
    # Away from 0 (div) and without ties (maximum, minimum): the derivative is defined.
    a_np = (rng.uniform(0.5, 2.0, shape_a) * rng.choice([-1.0, 1.0], shape_a)).astype(dtype)
    b_np = (rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1.0, 1.0], shape_b) * 1.1).astype(dtype)
    a, b = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)
    y = op(a, b)
    assert y.shape == shapes.result_shape
    g = rng.standard_normal(shapes.result_shape).astype(dtype)
    y.backward(g)

    da, db = local(a_np.astype(np.float64), b_np.astype(np.float64))
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    assert a.grad.dtype == dtype and b.grad.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for which, got, d, shape in (("a", a.grad, da, shape_a), ("b", b.grad, db, shape_b)):
        np.testing.assert_allclose(
            got.data,
            reference_sum_to(g * d, shape),
            rtol=tol,
            atol=tol,
            err_msg=f"{name}: the gradient of {which} (shape {shape}) is wrong: it must be gy times "
            f"d({name})/d{which}, summed over the axes broadcasting stretched",
        )


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(BINARY)),
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_binary_op_gradcheck_on_random_broadcast_shapes(name, shapes, seed) -> None:
    op, _ = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = (
        Tensor(rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) * k, requires_grad=True)
        for s, k in zip(shapes.input_shapes, (1.0, 1.1), strict=True)
    )
    assert gradcheck(op, a, b, seed=seed)


@settings(max_examples=25, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(signature="(n,k),(k,m)->(n,m)", max_dims=2, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_matmul_gradients_reduce_broadcast_batch_dims(shapes, seed) -> None:
    rng = np.random.default_rng(seed)
    a, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes.input_shapes)
    assert gradcheck(lambda a, b: a @ b, a, b, seed=seed)
    assert a.grad is None and b.grad is None  # gradcheck leaves .grad as it found it
    (a @ b).backward(np.ones(shapes.result_shape))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((), (3, 4)), ((3, 4), ()), ((3, 1), (1, 4)), ((4,), (3, 4)), ((2, 1, 4), (3, 1))],
    ids=["scalar_vs_matrix", "matrix_vs_scalar", "column_vs_row", "row_vs_matrix", "3d_vs_2d"],
)
def test_gradcheck_broadcast_cases(name: str, shape_a: tuple, shape_b: tuple) -> None:
    op, _ = BINARY[name]
    rng = np.random.default_rng(0)
    a = Tensor(rng.uniform(0.5, 2.0, shape_a) * rng.choice([-1.0, 1.0], shape_a), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1.0, 1.0], shape_b) * 1.1, requires_grad=True)
    assert gradcheck(op, a, b)


def test_python_number_vs_matrix() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = 2.0 * x + 1 - x / 4.0
    y.backward(np.ones((2, 3)))
    np.testing.assert_allclose(
        x.grad.data,
        np.full((2, 3), 1.75),
        err_msg="x is used twice (2.0 * x and x / 4.0): its .grad must add up both contributions "
        "(2 - 0.25); did the engine assign (=) a leaf's gradient instead of accumulating (+=)?",
    )


def test_column_plus_row_gradients_by_hand() -> None:
    # a (3,1) + b (1,4) -> (3,4): each a[i] was used 4 times, each b[j] 3 times.
    a = Tensor(np.zeros((3, 1)), requires_grad=True)
    b = Tensor(np.zeros((1, 4)), requires_grad=True)
    g = np.arange(12.0).reshape(3, 4)
    (a + b).backward(g)
    np.testing.assert_array_equal(a.grad.data, [[6.0], [22.0], [38.0]])
    np.testing.assert_array_equal(b.grad.data, [[12.0, 15.0, 18.0, 21.0]])


def test_batch_matmul_with_broadcast_batch_dims() -> None:
    # (2,1,3,4) @ (5,4,2): batch dims (2,1) and (5,) broadcast to (2,5).
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((2, 1, 3, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal((5, 4, 2)), requires_grad=True)
    y = a @ b
    assert y.shape == (2, 5, 3, 2)
    assert gradcheck(lambda a, b: a @ b, a, b)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    # every (3,4) matrix of a met all 5 matrices of b; every matrix of b met both of a
    np.testing.assert_allclose(a.grad.data, (g @ b.data.swapaxes(-1, -2)).sum(1, keepdims=True))
    np.testing.assert_allclose(b.grad.data, (a.data.swapaxes(-1, -2) @ g).sum(0))


@pytest.mark.parametrize(
    "shape, target",
    [((2, 3, 4), (3, 1)), ((2, 3, 4), (4,)), ((2, 3, 4), ()), ((3, 1), (3, 1)), ((2, 3), (1, 3))],
)
def test_sum_to_matches_the_reference(shape: tuple, target: tuple) -> None:
    g = np.random.default_rng(0).standard_normal(shape)
    out = ag.sum_to(Tensor(g), target)
    assert out.shape == target
    np.testing.assert_allclose(out.data, reference_sum_to(g, target))
