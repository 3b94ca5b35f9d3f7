"""The Tensor value type: construction, properties, conversion, repr."""

from __future__ import annotations

import numpy as np
import pytest

from numpygpt.autograd import Tensor, ones, ones_like, tensor, zeros, zeros_like

pytestmark = pytest.mark.engine


def test_python_floats_become_float32_and_ints_stay_ints() -> None:
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor([True, False]).dtype == np.bool_
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64


def test_an_ndarray_is_wrapped_without_a_copy() -> None:
    arr = np.arange(6.0).reshape(2, 3)
    t = Tensor(arr)
    assert t.data is arr and t.dtype == np.float64  # an ndarray keeps its dtype
    assert Tensor(t).data is arr


def test_properties() -> None:
    t = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True, name="x")
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dtype == np.float64
    assert t.size() == (2, 3, 4) and t.size(-1) == 4 and t.numel() == 24 and len(t) == 2
    assert t.grad is None and t.requires_grad and t.creator is None and t.generation == 0
    assert t.name == "x"
    np.testing.assert_array_equal(Tensor(np.arange(6.0).reshape(2, 3)).T.data, np.arange(6.0).reshape(2, 3).T)
    np.testing.assert_array_equal(t.T.data, t.data.transpose(2, 1, 0))


def test_item_numpy_tolist() -> None:
    assert Tensor([[2.5]]).item() == 2.5
    arr = np.array([1.0, 2.0])
    assert Tensor(arr).numpy() is arr
    x = Tensor(arr, requires_grad=True)
    assert x.detach().numpy() is arr
    assert Tensor([[1, 2]]).tolist() == [[1, 2]]


def test_repr_shows_values_dtype_and_history() -> None:
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(Tensor(np.array([1.0]))) == "tensor([1.], dtype=float64)"
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], creator=Mul)"


def test_factories() -> None:
    assert zeros(2, 3).shape == (2, 3) and zeros((2, 3)).dtype == np.float32
    assert ones(4, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(ones(2).data, [1.0, 1.0])
    t = tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.dtype == np.float32
    z = zeros_like(t, requires_grad=True)
    assert z.shape == (2,) and z.requires_grad and not z.data.any()
    np.testing.assert_array_equal(ones_like(t).data, [1.0, 1.0])


def test_tensors_hash_by_identity_and_compare_elementwise() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2  # usable in sets of parameters although == is elementwise
    assert bool(a == b)
    assert (Tensor([1.0, 2.0]) == Tensor([1.0, 3.0])).tolist() == [True, False]


def test_requires_grad_in_place_and_float_only() -> None:
    t = Tensor([1.0, 2.0])
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
