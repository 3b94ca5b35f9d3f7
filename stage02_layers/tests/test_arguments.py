"""Arguments checked at the call, and Module attributes with PyTorch's rules: each misuse the hunt
(test_misuse.py) found is refused with a message naming the layer or op, the argument and the
value, or now works as in PyTorch.

Select with `nox -s stage02 -- -m errors`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor
from numpygpt.nn import init

pytestmark = pytest.mark.errors


def t(*shape: int, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype))


def raises(kind: type[Exception], message: str, fn: Callable[[], Any]) -> None:
    with pytest.raises(kind, match=re.escape(message)):
        fn()


def holder() -> nn.Module:
    """A Module with a submodule `sub`, a buffer `buf` and a plain attribute `x`."""
    m = nn.Module()
    m.sub = nn.ReLU()
    m.register_buffer("buf", np.ones(2))
    m.x = 5
    return m


# ----- Module attributes: PyTorch's rules ----------------------------------------------------------
@pytest.mark.module
def test_a_parameter_slot_takes_only_a_parameter_or_none() -> None:
    """`linear.weight = Tensor(...)` used to drop the weight from parameters() and the state_dict
    without a word; as in PyTorch it is a TypeError naming the attribute."""
    lin = nn.Linear(2, 2)
    msg = "cannot assign 'numpygpt.autograd.Tensor' as parameter 'weight' (numpygpt.nn.Parameter or None expected)"
    raises(TypeError, msg, lambda: setattr(lin, "weight", t(2, 2)))
    raises(
        TypeError,
        "cannot assign 'numpy.ndarray' as parameter 'weight'",
        lambda: setattr(lin, "weight", np.ones((2, 2))),
    )
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"], "a refused assignment changes nothing"
    lin.weight = None
    assert lin.weight is None and list(lin.state_dict()) == ["bias"]
    lin.weight = nn.Parameter(np.zeros((2, 2), dtype=np.float32))
    assert list(lin.state_dict()) == ["weight", "bias"]


@pytest.mark.module
def test_module_and_buffer_slots_keep_their_kind() -> None:
    msg = "cannot assign 'numpygpt.autograd.Tensor' as child module 'sub' (numpygpt.nn.Module or None expected)"
    raises(TypeError, msg, lambda: setattr(holder(), "sub", t(2)))
    raises(
        TypeError,
        "cannot assign 'list' as buffer 'buf' (numpy.ndarray or None expected)",
        lambda: setattr(holder(), "buf", [1.0]),
    )
    m = holder()
    m.buf = np.zeros(3)
    m.sub = None
    assert list(m.state_dict()) == ["buf"] and list(m.children()) == []


@pytest.mark.module
def test_del_unregisters() -> None:
    """`del linear.weight` used to leave the weight registered; now it is gone from every walk."""
    lin, m = nn.Linear(2, 2), holder()
    del lin.weight, m.sub, m.buf
    assert [n for n, _ in lin.named_parameters()] == ["bias"] and list(lin.state_dict()) == ["bias"]
    assert not hasattr(lin, "weight") and list(m.children()) == [] and list(m.state_dict()) == []
    raises(AttributeError, "'Module' object has no attribute 'nothing'", lambda: delattr(m, "nothing"))
    lin.weight = nn.Parameter(np.zeros((2, 2), dtype=np.float32))  # a new weight registers again
    assert list(lin.state_dict()) == ["bias", "weight"]


REGISTERING = {
    "a name that is not a str": (
        TypeError,
        "parameter name should be a string. Got int",
        lambda: holder().register_parameter(1, None),
    ),
    "a dotted name": (
        KeyError,
        'parameter name can\\\'t contain ".", got: a.b',
        lambda: holder().register_parameter("a.b", None),
    ),
    "an empty name": (
        KeyError,
        'parameter name can\\\'t be empty string ""',
        lambda: holder().register_parameter("", None),
    ),
    "a plain attribute's name": (
        KeyError,
        "attribute 'x' already exists",
        lambda: holder().register_parameter("x", None),
    ),
    "the name of Module's own attribute": (
        KeyError,
        "attribute 'training' already exists",
        lambda: holder().register_parameter("training", None),
    ),
    "a Tensor as a parameter": (
        TypeError,
        "cannot assign 'numpygpt.autograd.Tensor' object to parameter 'w' (numpygpt.nn.Parameter or None required)",
        lambda: holder().register_parameter("w", t(2)),
    ),
    "before Module.__init__": (
        AttributeError,
        "cannot assign parameter before Module.__init__() call",
        lambda: nn.Module.__new__(nn.Module).register_parameter("w", None),
    ),
    "a list as a buffer": (
        TypeError,
        "cannot assign 'list' object to buffer 'b' (numpy.ndarray or None required)",
        lambda: holder().register_buffer("b", [1.0]),
    ),
    "persistent not a bool": (
        TypeError,
        "register_buffer: persistent must be a bool (True or False), got 'no'",
        lambda: holder().register_buffer("b", np.ones(2), persistent="no"),
    ),
    "a buffer named like a submodule": (
        KeyError,
        "attribute 'sub' already exists",
        lambda: holder().register_buffer("sub", np.ones(2)),
    ),
    "a buffer before Module.__init__": (
        AttributeError,
        "cannot assign buffer before Module.__init__() call",
        lambda: nn.Module.__new__(nn.Module).register_buffer("b", None),
    ),
    "a module before Module.__init__": (
        AttributeError,
        "cannot assign module before Module.__init__() call",
        lambda: nn.Module.__new__(nn.Module).add_module("m", None),
    ),
    "an int as a module": (TypeError, "int is not a Module subclass", lambda: holder().add_module("r", 5)),
    "a dotted module name": (
        KeyError,
        'module name can\\\'t contain ".", got: a.b',
        lambda: holder().register_module("a.b", nn.ReLU()),
    ),
}


@pytest.mark.module
@pytest.mark.parametrize("case", list(REGISTERING))
def test_registration_checks_as_pytorch(case: str) -> None:
    raises(*REGISTERING[case])


@pytest.mark.module
def test_non_persistent_buffers_are_converted_but_not_saved() -> None:
    m = nn.Module()
    m.register_buffer("scratch", np.ones(2, dtype=np.float32), persistent=False)
    m.double()
    assert m.scratch.dtype == np.float64 and list(m.state_dict()) == []
    m.register_buffer("scratch", np.ones(2), persistent=True)  # re-registering may change it
    assert list(m.state_dict()) == ["scratch"]


# ----- load_state_dict: all or nothing ------------------------------------------------------------
@pytest.mark.module
def test_load_state_dict_checks_everything_before_writing_anything() -> None:
    """A float into an int buffer used to fail halfway, after the weights had been overwritten."""
    m = nn.Module()
    m.lin = nn.Linear(2, 2)
    m.register_buffer("steps", np.zeros(1, dtype=np.int64))
    before = m.lin.weight.data.copy()
    state = {"lin.weight": np.ones((2, 2)), "lin.bias": np.ones(2), "steps": np.array([0.5])}
    raises(
        RuntimeError,
        "load_state_dict for Module: dtype mismatch: steps: checkpoint float64 does not cast to model int64",
        lambda: m.load_state_dict(state),
    )
    np.testing.assert_array_equal(m.lin.weight.data, before)


@pytest.mark.module
def test_load_state_dict_refuses_nan_weights_by_name() -> None:
    """PyTorch loads them silently; a model with NaN weights outputs NaN, so here it is an error."""
    lin = nn.Linear(2, 2)
    state = {"weight": np.full((2, 2), np.nan), "bias": np.array([np.inf, 0.0])}
    msg = "load_state_dict for Linear: parameters not finite (was the state saved after training diverged?): weight (4 NaN, 0 inf); bias (0 NaN, 1 inf)"
    raises(RuntimeError, msg, lambda: lin.load_state_dict(state))
    m = nn.Module()
    m.register_buffer("mask", np.array([0.0, -np.inf]))
    m.load_state_dict({"mask": np.array([-np.inf, 0.0])})  # a buffer may hold inf: a mask is a mask
    assert m.mask[0] == -np.inf


LOADING = {
    "not a mapping": (
        TypeError,
        "load_state_dict: expected state_dict to be dict-like, got [1]",
        lambda: nn.Linear(2, 2).load_state_dict([1]),
    ),
    "strict not a bool": (
        TypeError,
        "load_state_dict: strict must be a bool (True or False), got 'a'",
        lambda: nn.Linear(2, 2).load_state_dict({}, strict="a"),
    ),
    "a str value": (
        RuntimeError,
        "load_state_dict for Linear: not numbers: weight: dtype <U1",
        lambda: nn.Linear(2, 2).load_state_dict({"weight": "a", "bias": np.zeros(2)}),
    ),
}


@pytest.mark.module
@pytest.mark.parametrize("case", list(LOADING))
def test_load_state_dict_arguments(case: str) -> None:
    raises(*LOADING[case])


# ----- Module methods and containers ------------------------------------------------------------------
MODULES = {
    "train with a str": (
        ValueError,
        "train: training mode is expected to be boolean, got 'a'",
        lambda: nn.Linear(2, 2).train("a"),
    ),
    "zero_grad with a str": (
        TypeError,
        "zero_grad: set_to_none must be a bool (True or False), got 'a'",
        lambda: nn.Linear(2, 2).zero_grad("a"),
    ),
    "to an int dtype": (
        TypeError,
        "to: dtype must be a floating point dtype such as np.float32, got int64",
        lambda: nn.Linear(2, 2).to(np.int64),
    ),
    "prepend not a bool": (
        TypeError,
        "register_forward_hook: prepend must be a bool (True or False), got 'yes'",
        lambda: nn.Linear(2, 2).register_forward_hook(lambda *a: None, prepend="yes"),
    ),
    "a prefix that is not a str": (
        TypeError,
        "named_parameters: prefix must be a str, got 5",
        lambda: list(nn.Linear(2, 2).named_parameters(prefix=5)),
    ),
    "Sequential of an int": (
        TypeError,
        "Sequential: argument 0: int is not a Module subclass",
        lambda: nn.Sequential(5),
    ),
    "an index out of range": (
        IndexError,
        "index 5 is out of range for a Sequential of 2 modules",
        lambda: nn.Sequential(nn.ReLU(), nn.Tanh())[5],
    ),
    "a str index": (
        TypeError,
        "Sequential indices must be integers or slices, got 'a'",
        lambda: nn.Sequential(nn.ReLU())["a"],
    ),
    "ModuleList of an int": (
        TypeError,
        "ModuleList: modules must be an iterable of Modules, got 5",
        lambda: nn.ModuleList(5),
    ),
    "ModuleList of a list of ints": (
        TypeError,
        "ModuleList: modules[0]: int is not a Module subclass",
        lambda: nn.ModuleList([5]),
    ),
    "append of an int": (
        TypeError,
        "ModuleList.append: module: int is not a Module subclass",
        lambda: nn.ModuleList().append(5),
    ),
    "ModuleDict of an int": (
        TypeError,
        "ModuleDict: modules must be a mapping of names to Modules, got 5",
        lambda: nn.ModuleDict(5),
    ),
    "ModuleDict with a dotted key": (
        KeyError,
        'module name can\\\'t contain ".", got: a.b',
        lambda: nn.ModuleDict({"a.b": nn.ReLU()}),
    ),
    "ModuleDict of an int value": (
        TypeError,
        "ModuleDict: int is not a Module subclass (under key 'a')",
        lambda: nn.ModuleDict({"a": 5}),
    ),
    "ModuleDict without the key": (
        KeyError,
        "ModuleDict has no module 'x'; its keys are ['a']",
        lambda: nn.ModuleDict({"a": nn.ReLU()})["x"],
    ),
}


@pytest.mark.module
@pytest.mark.parametrize("case", list(MODULES))
def test_module_methods_and_containers(case: str) -> None:
    raises(*MODULES[case])


@pytest.mark.module
def test_containers_index_and_slice_as_pytorch() -> None:
    a, b = nn.ReLU(), nn.Tanh()
    seq, ml = nn.Sequential(a, b), nn.ModuleList([a, b])
    assert seq[np.int64(-1)] is b and ml[-2] is a
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b]
    assert isinstance(ml[:1], nn.ModuleList) and list(ml[:1]) == [a]
    assert [] not in nn.ModuleDict({"a": a})  # an unhashable key is simply not there


# ----- layers --------------------------------------------------------------------------------------------
LAYERS = {
    "a negative size": (ValueError, "Linear: in_features must be an int >= 0, got -1", lambda: nn.Linear(-1, 3)),
    "a float size": (TypeError, "Linear: in_features must be an int >= 0, got 2.5", lambda: nn.Linear(2.5, 3)),
    "a bool size": (TypeError, "Linear: in_features must be an int >= 0, got True", lambda: nn.Linear(True, 3)),
    "a weight too large": (
        ValueError,
        "Linear: (out_features, in_features) (8, 4611686018427387904) is too large: more than 2**60 elements",
        lambda: nn.Linear(2**62, 8),
    ),
    "bias not a bool": (
        TypeError,
        "Linear: bias must be a bool (True or False), got 'a'",
        lambda: nn.Linear(2, 2, bias="a"),
    ),
    "an int dtype": (
        TypeError,
        "Linear: dtype must be a floating point dtype such as np.float32, got int64",
        lambda: nn.Linear(2, 2, dtype=np.int64),
    ),
    "an array into Linear": (
        TypeError,
        "Linear(4, 3): input must be a Tensor, got an ndarray of shape (2, 4)",
        lambda: nn.Linear(4, 3)(np.ones((2, 4))),
    ),
    "a negative vocabulary": (
        ValueError,
        "Embedding: num_embeddings must be an int >= 0, got -1",
        lambda: nn.Embedding(-1, 3),
    ),
    "an empty normalized_shape": (
        ValueError,
        "LayerNorm: normalized_shape must have at least one dimension (the ones to normalise over), got ()",
        lambda: nn.LayerNorm(()),
    ),
    "a str normalized_shape": (
        TypeError,
        "LayerNorm: normalized_shape must be a tuple of ints >= 0, got 'a'",
        lambda: nn.LayerNorm("a"),
    ),
    "eps nan": (
        ValueError,
        "LayerNorm: eps must be a finite number >= 0.0, got nan",
        lambda: nn.LayerNorm(4, eps=float("nan")),
    ),
    "eps negative": (
        ValueError,
        "RMSNorm: eps must be a finite number >= 0.0, got -1.0",
        lambda: nn.RMSNorm(4, eps=-1.0),
    ),
    "p a str": (
        TypeError,
        "Dropout: dropout probability p has to be a number between 0 and 1, but got 'a'",
        lambda: nn.Dropout("a"),
    ),
    "p nan": (
        ValueError,
        "Dropout: dropout probability has to be between 0 and 1, but got nan",
        lambda: nn.Dropout(float("nan")),
    ),
    "GELU of None": (ValueError, "GELU: approximate must be 'none' or 'tanh', got None", lambda: nn.GELU(None)),
    "Softmax over dim 1.5": (TypeError, "Softmax: dim must be an int, got 1.5", lambda: nn.Softmax(1.5)),
    "an array into Tanh": (
        TypeError,
        "Tanh: input must be a Tensor, got an ndarray of shape (2,)",
        lambda: nn.Tanh()(np.ones(2)),
    ),
    "a Parameter of ints": (
        TypeError,
        "Parameter: data must be floating point to require gradients, got dtype int64; pass requires_grad=False to keep integers",
        lambda: nn.Parameter([1, 2]),
    ),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_arguments(case: str) -> None:
    raises(*LAYERS[case])


def test_zero_size_layers_work_as_in_pytorch() -> None:
    """Linear(0, 3) used to raise ZeroDivisionError in its initialisation; PyTorch builds it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = nn.Linear(0, 3)
        y = lin(Tensor(np.zeros((2, 0), dtype=np.float32), requires_grad=True))
    np.testing.assert_array_equal(y.data, np.zeros((2, 3)))  # bias ~ U(0, 0): nothing to scale by
    assert nn.Linear(3, 0).weight.shape == (0, 3) and nn.Embedding(0, 4).weight.shape == (0, 4)
    x = Tensor(np.zeros((2, 0), dtype=np.float32), requires_grad=True)
    nn.LayerNorm(0)(x).sum().backward()
    assert x.grad.shape == (2, 0)
    assert nn.Linear(np.int64(2), np.int32(3)).weight.shape == (3, 2)  # NumPy ints are ints
    assert nn.Linear(2, 3, dtype=np.float16).weight.dtype == np.float16


def test_a_parameter_may_hold_ints_without_gradient() -> None:
    p = nn.Parameter([1, 2], requires_grad=False)
    assert p.dtype.kind == "i" and not p.requires_grad


# ----- functional ------------------------------------------------------------------------------------------------
FUNCTIONAL = {
    "mixed dtypes in linear": (
        TypeError,
        "linear: expected all tensors to have the same dtype, got input float32, weight float64; convert with .astype()",
        lambda: F.linear(t(2, 4), t(3, 4, dtype=np.float64)),
    ),
    "None as the input": (TypeError, "linear: input must be a Tensor, got None", lambda: F.linear(None, t(3, 4))),
    "mixed dtypes in layer_norm": (
        TypeError,
        "layer_norm: expected all tensors to have the same dtype, got input float32, weight float64",
        lambda: F.layer_norm(t(2, 4), 4, weight=t(4, dtype=np.float64)),
    ),
    "layer_norm eps nan": (
        ValueError,
        "layer_norm: eps must be a finite number >= 0.0, got nan",
        lambda: F.layer_norm(t(2, 4), 4, eps=float("nan")),
    ),
    "layer_norm over ()": (
        ValueError,
        "layer_norm: normalized_shape must have at least one dimension",
        lambda: F.layer_norm(t(2, 4), ()),
    ),
    "softmax over dim 1.5": (TypeError, "softmax: dim must be an int, got 1.5", lambda: F.softmax(t(2, 4), 1.5)),
    "ignore_index a float": (
        TypeError,
        "cross_entropy: ignore_index must be an int, got 1.5",
        lambda: F.cross_entropy(t(3, 5), np.array([0, 1, 2]), ignore_index=1.5),
    ),
    "reduction a list": (
        ValueError,
        "cross_entropy: reduction must be 'mean', 'sum' or 'none', got ['mean']",
        lambda: F.cross_entropy(t(3, 5), np.array([0, 1, 2]), reduction=["mean"]),
    ),
    "ragged targets": (
        ValueError,
        "cross_entropy: target must be an array of class indices: setting an array element with a sequence",
        lambda: F.cross_entropy(t(3, 5), [0, [1, 2]]),
    ),
    "p a str": (
        TypeError,
        "dropout: dropout probability p has to be a number between 0 and 1, but got 'a'",
        lambda: F.dropout(t(2), "a"),
    ),
    "training a str": (
        TypeError,
        "dropout: training must be a bool (True or False), got 'yes'",
        lambda: F.dropout(t(2), 0.5, training="yes"),
    ),
    "generator an int": (
        TypeError,
        "dropout: generator must be a numpy.random.Generator or None, got 5",
        lambda: F.dropout(t(2), 0.5, generator=5),
    ),
    "mixed dtypes in attention": (
        TypeError,
        "scaled_dot_product_attention: expected all tensors to have the same dtype, got query float32, key float64, value float32",
        lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 3, 4, dtype=np.float64), t(2, 3, 4)),
    ),
    "an int mask": (
        TypeError,
        "scaled_dot_product_attention: attn_mask must be bool (True = may attend) or floating point (added to the scores), got dtype int64",
        lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), attn_mask=np.ones((3, 3), np.int64)),
    ),
    "is_causal a str": (
        TypeError,
        "scaled_dot_product_attention: is_causal must be a bool (True or False), got 'a'",
        lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), is_causal="a"),
    ),
    "ragged ids": (
        ValueError,
        "embedding: ids must be an array of integers: setting an array element with a sequence",
        lambda: F.embedding([0, [1]], t(3, 2)),
    ),
    "a ragged mask": (
        ValueError,
        "scaled_dot_product_attention: attn_mask must be an array: setting an array element",
        lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), attn_mask=[True, [False]]),
    ),
    "ragged rotary tables": (
        ValueError,
        "rotary_embedding: cos and sin must be arrays: setting an array element",
        lambda: F.rotary_embedding(t(1, 2, 4), [1, [2]], [1, [2]]),
    ),
    "a rotary dtype that is not floating point": (
        TypeError,
        "RotaryEmbedding: dtype must be a floating point dtype such as np.float32, got int64",
        lambda: nn.RotaryEmbedding(4, 8, dtype=np.int64),
    ),
    "scale nan": (
        ValueError,
        "scaled_dot_product_attention: scale must be a finite number, got nan",
        lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), scale=float("nan")),
    ),
}


@pytest.mark.parametrize("case", list(FUNCTIONAL))
def test_functional_arguments(case: str) -> None:
    raises(*FUNCTIONAL[case])


def test_functional_edge_cases_answer_as_pytorch() -> None:
    assert F.softmax(Tensor(np.float32(3.0)), 0).item() == 1.0  # one number is its own row
    assert F.log_softmax(t(3, 0), 1).shape == (3, 0)  # no row to normalise
    np.testing.assert_allclose(F.softmax(t(2, 4), np.int64(1)).data, 0.25)  # a NumPy int is a dim
    logits = Tensor(np.array([1.0, 2.0, 0.5], dtype=np.float32))  # one unbatched row (C,) and its class
    one = F.cross_entropy(logits, np.array(1))
    assert one.item() == F.cross_entropy(logits.reshape(1, 3), np.array([1])).item()
    assert F.cross_entropy(logits, np.array(1), reduction="none").shape == ()
    # E = 0: every score is 0, so each query averages the values (1/sqrt(0) used to fail)
    y = F.scaled_dot_product_attention(t(2, 3, 0), t(2, 4, 0), Tensor(np.arange(8, dtype=np.float32).reshape(2, 4, 1)))
    np.testing.assert_allclose(y.data[:, :, 0], [[1.5] * 3, [5.5] * 3])


# ----- init and the random state ------------------------------------------------------------------------------
INIT = {
    "a > b": (
        ValueError,
        "uniform_: expects a [from, to) range with a <= b, but found a=2.0 > b=1.0",
        lambda: init.uniform_(t(2, 2), 2, 1),
    ),
    "a nan": (ValueError, "uniform_: a must be a finite number, got nan", lambda: init.uniform_(t(2, 2), float("nan"))),
    "std negative": (
        ValueError,
        "normal_: std must be a finite number >= 0.0, got -1",
        lambda: init.normal_(t(2, 2), std=-1),
    ),
    "an array to fill": (
        TypeError,
        "zeros_: tensor must be a Tensor, got an ndarray of shape (2,)",
        lambda: init.zeros_(np.ones(2)),
    ),
    "a slope that is a str": (
        ValueError,
        "calculate_gain: negative_slope 'x' not a valid number",
        lambda: init.calculate_gain("leaky_relu", "x"),
    ),
    "a nonlinearity that is not a str": (
        ValueError,
        "calculate_gain: unsupported nonlinearity 5",
        lambda: init.calculate_gain(5),
    ),
    "a negative gain": (
        ValueError,
        "xavier_uniform_: gain must be a finite number >= 0.0, got -1",
        lambda: init.xavier_uniform_(t(2, 2), gain=-1),
    ),
    "a generator that is an int": (
        TypeError,
        "kaiming_uniform_: generator must be a numpy.random.Generator or None, got 5",
        lambda: init.kaiming_uniform_(t(2, 2), generator=5),
    ),
    "a seed too large": (
        ValueError,
        "manual_seed: seed must be within the inclusive range [-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff], got 18446744073709551616",
        lambda: nn.manual_seed(2**64),
    ),
    "a float seed": (TypeError, "manual_seed: seed must be an int, got 1.5", lambda: nn.manual_seed(1.5)),
    "a state that is an int": (
        ValueError,
        "set_rng_state: state must be a PCG64 state from get_rng_state(), got 5",
        lambda: nn.set_rng_state(5),
    ),
}


@pytest.mark.init
@pytest.mark.parametrize("case", list(INIT))
def test_init_and_random_arguments(case: str) -> None:
    state = nn.get_rng_state()
    raises(*INIT[case])
    assert nn.get_rng_state() == state, "a refused call leaves the random state as it was"


@pytest.mark.init
def test_seeds_as_pytorch_takes_them() -> None:
    """A negative seed is remapped to 0xffff_ffff_ffff_ffff + seed, as torch.manual_seed does."""
    state = nn.get_rng_state()
    try:
        a = nn.manual_seed(-1).random(3)
        b = nn.manual_seed(0xFFFF_FFFF_FFFF_FFFE).random(3)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(nn.manual_seed(np.int64(7)).random(2), nn.manual_seed(7).random(2))
    finally:
        nn.set_rng_state(state)
    assert init.calculate_gain("leaky_relu", 1e200) == 0.0  # slope**2 used to raise OverflowError
    assert init.kaiming_uniform_(Tensor(np.empty((0, 3), np.float32))).shape == (0, 3)  # nothing to fill
