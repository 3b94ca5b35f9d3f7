"""clip_grad_norm_: rescale all gradients together when their total norm is too large."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numpygpt.autograd import Tensor
from numpygpt.autograd.exercises import check_value
from numpygpt.optim import clip_grad_norm_, get_total_norm

pytestmark = pytest.mark.clip


def with_grad(grad: list | np.ndarray, dtype: type = np.float32) -> Tensor:
    g = np.asarray(grad, dtype=dtype)
    p = Tensor(np.zeros_like(g), requires_grad=True)
    p.grad = Tensor(g)
    return p


@pytest.mark.ex3_4
@pytest.mark.parametrize("max_norm", [1.0, 10.0], ids=["clipped", "left_alone"])
def test_clipping_by_hand(max_norm: float) -> None:
    zero = with_grad([0.0, 0.0], np.float64)
    clip_grad_norm_([zero], max_norm=1.0)
    assert np.isfinite(zero.grad.data).all(), (
        f"all-zero gradients became {zero.grad.data}: the total norm is 0, so add 1e-6 to it before dividing"
    )
    a, b = with_grad([3.0, 0.0], np.float64), with_grad([[0.0], [4.0]], np.float64)  # total norm 5
    arrays = (a.grad.data, b.grad.data)
    clip_grad_norm_([a, b], max_norm=max_norm)
    assert a.grad.data is arrays[0] and b.grad.data is arrays[1], "clipping must scale the gradients in place"
    got = np.concatenate([a.grad.data.ravel(), b.grad.data.ravel()])
    g = np.array([3.0, 0.0, 0.0, 4.0])
    check_value(
        got,
        g * min(max_norm / (5 + 1e-6), 1.0),
        f"the gradients (total norm 5) clipped to max_norm={max_norm}",
        {
            "a total norm below max_norm scaled the gradients up: clipping only ever scales down, by at most "
            "a factor of 1": g * max_norm / (5 + 1e-6),
            "it divides max_norm by the total norm alone: PyTorch adds 1e-6 to it, which also keeps all-zero "
            "gradients finite": g * min(max_norm / 5, 1.0),
            "each gradient was clipped by its own norm: one factor, from the total norm of all gradients "
            "together, scales every one": np.r_[g[:2] * min(max_norm / 3, 1), g[2:] * min(max_norm / 4, 1)],
        },
        rtol=1e-9,
    )


def test_scales_all_gradients_by_one_coefficient() -> None:
    a, b = with_grad([3.0, 0.0]), with_grad([[0.0], [4.0]])  # total norm 5
    norm = clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == 5.0
    coef = np.float32(1.0) / (np.float32(5.0) + np.float32(1e-6))  # PyTorch's 1e-6, in float32
    np.testing.assert_array_equal(a.grad.data, np.float32([3.0, 0.0]) * coef)
    np.testing.assert_array_equal(b.grad.data, np.float32([[0.0], [4.0]]) * coef)
    assert a.grad.dtype == np.float32
    assert get_total_norm([a.grad, b.grad]).item() == pytest.approx(1.0, rel=1e-6)


def test_small_gradients_are_left_untouched() -> None:
    a, b = with_grad([0.3, -0.4]), with_grad([1e-3])
    arrays = (a.grad.data, b.grad.data)
    before = [x.copy() for x in arrays]
    norm = clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == pytest.approx(math.sqrt(0.25 + 1e-6), rel=1e-6)
    assert a.grad.data is arrays[0] and b.grad.data is arrays[1]
    untouched = "a total norm below max_norm must leave the gradients alone: the factor is min(max_norm / norm, 1)"
    np.testing.assert_array_equal(a.grad.data, before[0], err_msg=untouched)
    np.testing.assert_array_equal(b.grad.data, before[1], err_msg=untouched)


def test_a_norm_equal_to_max_norm_is_still_scaled_by_the_epsilon() -> None:
    a = with_grad([3.0, 4.0])
    clip_grad_norm_([a], max_norm=5.0)
    coef = np.float32(5.0) / (np.float32(5.0) + np.float32(1e-6))
    np.testing.assert_array_equal(a.grad.data, np.float32([3.0, 4.0]) * coef)


def test_all_zero_gradients_stay_zero() -> None:
    a = with_grad([0.0, 0.0])
    assert clip_grad_norm_([a], 1.0).item() == 0.0
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(
    grads=st.lists(
        hnp.arrays(
            np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=st.floats(-100, 100, width=32)
        ),
        min_size=1,
        max_size=4,
    ),
    max_norm=st.floats(1e-2, 50.0),
    norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf]),
)
def test_clipped_norm_is_at_most_max_norm_and_direction_is_kept(grads, max_norm, norm_type) -> None:
    params = [with_grad(g) for g in grads]
    flat = np.concatenate([g.reshape(-1) for g in grads]).astype(np.float64)
    expected = np.linalg.norm(flat, ord=norm_type)
    norm = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert norm.item() == pytest.approx(expected, rel=1e-5, abs=1e-6), "the norm before clipping"
    after = np.concatenate([p.grad.data.reshape(-1) for p in params]).astype(np.float64)
    assert np.linalg.norm(after, ord=norm_type) <= max_norm * (1 + 1e-5) + 1e-12
    scale = min(max_norm / (expected + 1e-6), 1.0)
    np.testing.assert_allclose(after, flat * scale, rtol=1e-5, atol=1e-6)


def test_parameters_without_grad_are_ignored_and_a_single_tensor_works() -> None:
    a, b = with_grad([6.0, 8.0]), Tensor(np.ones(3, np.float32), requires_grad=True)
    assert clip_grad_norm_([a, b], 5.0).item() == 10.0
    assert b.grad is None
    assert clip_grad_norm_(a, 100.0).item() == pytest.approx(5.0, rel=1e-6)


def test_no_gradients_give_norm_zero_and_an_empty_generator_warns() -> None:
    assert clip_grad_norm_([Tensor(np.ones(2, np.float32), requires_grad=True)], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient clipping will occur."):
        assert clip_grad_norm_((p for p in []), 1.0).item() == 0.0


def test_float64_gradients_stay_float64() -> None:
    a = with_grad([30.0, 40.0], np.float64)
    norm = clip_grad_norm_([a], 1.0)
    assert norm.dtype == np.float64 and a.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8], rtol=1e-6)


@pytest.mark.errors
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_non_finite_total_norm_raises_when_asked(bad: float) -> None:
    a, b = with_grad([1.0, bad]), with_grad([2.0])
    with pytest.raises(
        RuntimeError, match=r"The total norm of order 2\.0 for gradients from `parameters` is non-finite"
    ):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert np.array_equal(b.grad.data, [2.0]), "nothing is scaled when the error is raised"


@pytest.mark.errors
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")  # inf · 0
def test_a_non_finite_total_norm_is_returned_by_default() -> None:
    # PyTorch's default: no error, the gradients are scaled by the non-finite norm's coefficient.
    a, b = with_grad([1.0, np.inf]), with_grad([2.0])
    assert clip_grad_norm_([a, b], 1.0).item() == math.inf
    np.testing.assert_array_equal(b.grad.data, [0.0])  # max_norm / inf = 0
    c, d = with_grad([1.0, np.nan]), with_grad([2.0])
    assert math.isnan(clip_grad_norm_([c, d], 1.0).item())
    assert np.isnan(d.grad.data).all(), "a NaN norm must show up in every gradient, never be hidden"
