"""The Optimizer base: param groups, add_param_group, zero_grad, and the errors PyTorch raises."""

from __future__ import annotations

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, Adam, AdamW, Optimizer


def param(*shape: int) -> Tensor:
    return Tensor(np.ones(shape, np.float32), requires_grad=True)


@pytest.mark.optimizer
def test_a_list_of_parameters_is_one_group_with_the_defaults() -> None:
    a, b = param(2), param(3)
    opt = SGD([a, b], lr=0.5, momentum=0.9)
    assert len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert group["params"][0] is a and group["params"][1] is b
    assert group["lr"] == 0.5 and group["momentum"] == 0.9


@pytest.mark.optimizer
def test_group_dicts_override_defaults_and_a_generator_works() -> None:
    a, b, c = param(2), param(3), param(1)
    opt = Adam(({"params": ps, **kw} for ps, kw in [([a, b], {"lr": 0.1}), (c, {})]), lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["params"][0] is c, "a single Tensor as a group's params becomes [Tensor]"
    assert all(g["betas"] == (0.9, 0.999) for g in opt.param_groups)


@pytest.mark.optimizer
def test_named_parameters_record_param_names() -> None:
    a, b = param(2, 2), param(2)
    opt = AdamW([("w", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.param_groups[0]["params"][0] is a
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


@pytest.mark.optimizer
def test_the_caller_group_dict_is_not_modified() -> None:
    group = {"params": [param(2)], "lr": 0.1}
    SGD([group], momentum=0.9)
    assert set(group) == {"params", "lr"}, "add_param_group must not fill defaults into the caller's dict"


@pytest.mark.optimizer
def test_add_param_group_fills_defaults_and_the_new_group_is_stepped() -> None:
    a, b = param(1), param(1)
    opt = SGD([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 1.0})
    assert opt.param_groups[1]["momentum"] == 0.0
    a.grad, b.grad = Tensor(np.ones(1, np.float32)), Tensor(np.ones(1, np.float32))
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.0])


@pytest.mark.optimizer
def test_zero_grad_sets_none_by_default() -> None:
    a = param(2)
    a.grad = Tensor(np.ones(2, np.float32))
    opt = SGD([a])
    opt.zero_grad()
    assert a.grad is None


@pytest.mark.optimizer
def test_zero_grad_set_to_none_false_zeroes_the_same_array() -> None:
    a = param(2)
    a.grad = Tensor(np.ones(2, np.float32))
    array = a.grad.data
    SGD([a]).zero_grad(set_to_none=False)
    assert a.grad.data is array
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])


@pytest.mark.optimizer
def test_zero_grad_detaches_a_gradient_made_with_create_graph() -> None:
    x = param(2)
    (x * x).sum().backward(create_graph=True)
    assert x.grad.creator is not None
    SGD([x]).zero_grad(set_to_none=False)
    assert x.grad.creator is None
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


@pytest.mark.optimizer
def test_gradients_accumulate_until_zero_grad() -> None:
    x = param(1)
    opt = SGD([x], lr=0.1)
    for _ in range(2):
        (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0])
    opt.zero_grad()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0])


@pytest.mark.optimizer
def test_repr_lists_every_group() -> None:
    text = repr(SGD([{"params": [param(1)]}, {"params": [param(1)], "lr": 0.5}], lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n") and "Parameter Group 1" in text
    assert "    lr: 0.5" in text and "    momentum: 0.0" in text and text.endswith(")")


@pytest.mark.optimizer
def test_the_base_class_has_no_update_rule() -> None:
    with pytest.raises(NotImplementedError, match="Optimizer.step is not written"):
        Optimizer([param(1)], {"lr": 0.1}).step()


# ----- bad input: PyTorch's exceptions and messages ------------------------------------------


@pytest.mark.errors
def test_empty_parameter_list() -> None:
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        AdamW([])
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        SGD(p for p in [])


@pytest.mark.errors
@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=-0.1), lambda p: Adam(p, lr=-0.1), lambda p: AdamW(p, lr=-0.1)])
def test_negative_learning_rate(make) -> None:
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1 \(lr must be a finite number >= 0\)$"):
        make([param(1)])


@pytest.mark.errors
@pytest.mark.parametrize(
    "betas, message",
    [
        ((1.0, 0.999), r"^Invalid beta parameter at index 0: 1\.0 \(betas\[0\] must be a number in \[0, 1\)\)$"),
        ((-0.1, 0.999), r"^Invalid beta parameter at index 0: -0\.1 \(betas\[0\] must be"),
        ((0.9, 1.0), r"^Invalid beta parameter at index 1: 1\.0 \(betas\[1\] must be a number in \[0, 1\)\)$"),
        ((0.9, -1e-3), r"^Invalid beta parameter at index 1: -0\.001 \(betas\[1\] must be"),
    ],
)
@pytest.mark.parametrize("opt_class", [Adam, AdamW])
def test_betas_outside_zero_one(opt_class, betas, message) -> None:
    with pytest.raises(ValueError, match=message):
        opt_class([param(1)], betas=betas)


@pytest.mark.errors
def test_other_invalid_hyperparameters() -> None:
    with pytest.raises(ValueError, match=r"^Invalid epsilon value: -1e-08 \(eps must be a finite number >= 0\)$"):
        Adam([param(1)], eps=-1e-8)
    with pytest.raises(
        ValueError, match=r"^Invalid weight_decay value: -0\.01 \(weight_decay must be a finite number >= 0\)$"
    ):
        AdamW([param(1)], weight_decay=-0.01)
    with pytest.raises(ValueError, match=r"^Invalid weight_decay value: -1 \(weight_decay must be"):
        SGD([param(1)], weight_decay=-1)
    with pytest.raises(ValueError, match=r"^Invalid momentum value: -0\.5 \(momentum must be a finite number >= 0\)$"):
        SGD([param(1)], momentum=-0.5)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        SGD([param(1)], nesterov=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        SGD([param(1)], momentum=0.9, dampening=0.1, nesterov=True)


@pytest.mark.errors
def test_a_parameter_in_two_groups() -> None:
    a, b = param(1), param(1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        SGD([{"params": [a, b]}, {"params": [a]}])
    opt = SGD([a])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1, "a rejected group must not be half-added"


@pytest.mark.errors
def test_a_duplicate_inside_one_group_warns() -> None:
    a = param(1)
    with pytest.warns(UserWarning, match="parameter group with duplicate parameters"):
        SGD([a, a])


@pytest.mark.errors
def test_a_tensor_or_a_set_instead_of_a_list() -> None:
    a = param(2)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got numpygpt"):
        SGD(a)
    with pytest.raises(TypeError, match="ordering of tensors in sets will change between runs"):
        SGD([{"params": {a}}])


@pytest.mark.errors
def test_something_that_is_not_a_tensor() -> None:
    with pytest.raises(
        TypeError, match=r"optimizer can only optimize Tensors, but one of the params is numpy\.ndarray"
    ):
        SGD([np.ones(2)])
    with pytest.raises(TypeError, match=r"param_group must be a dict, but got <class 'list'>"):
        SGD([param(1)]).add_param_group([param(1)])


@pytest.mark.errors
def test_a_non_leaf_tensor() -> None:
    a = param(2)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([a * 2])


@pytest.mark.errors
def test_names_on_some_parameters_only() -> None:
    a, b = param(1), param(1)
    with pytest.raises(ValueError, match="Some param names are missing"):
        SGD([{"params": [("a", a), b]}])
    opt = SGD([("a", a)])
    with pytest.raises(ValueError, match="cannot add param group without names to the optimizer"):
        opt.add_param_group({"params": [b]})
