"""Module: registration, dotted names, the tree walks, modes, dtype, repr and state_dict.

Select with `nox -s stage02 -- -m module`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor

pytestmark = pytest.mark.module


class Block(nn.Module):
    """A GPT-like block: layer norm, then an MLP (registration order: ln, fc, proj)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(n)
        self.fc = nn.Linear(n, 2 * n)
        self.proj = nn.Linear(2 * n, n)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop(self.proj(F.gelu(self.fc(self.ln(x)))))


class TinyLM(nn.Module):
    """Embedding, two blocks in a ModuleList, a head whose weight is tied to the embedding."""

    def __init__(self, vocab: int = 7, n: int = 4) -> None:
        super().__init__()
        self.scale = Tensor(np.ones(1))  # a plain Tensor attribute: not a parameter
        self.wte = nn.Embedding(vocab, n)
        self.h = nn.ModuleList([Block(n), Block(n)])
        self.ln_f = nn.LayerNorm(n)
        self.lm_head = nn.Linear(n, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying, as in GPT-2

    def forward(self, ids: np.ndarray) -> Tensor:
        x = self.wte(ids)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


BLOCK_PARAMS = ["ln.weight", "ln.bias", "fc.weight", "fc.bias", "proj.weight", "proj.bias"]
TINY_NAMES = ["wte.weight"] + [f"h.{i}.{n}" for i in range(2) for n in BLOCK_PARAMS] + ["ln_f.weight", "ln_f.bias"]


# ----- registration and naming ------------------------------------------------------------
def test_parameters_register_on_assignment_in_order() -> None:
    lin = nn.Linear(3, 2)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    assert [p.shape for p in lin.parameters()] == [(2, 3), (2,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in lin.parameters())
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]


@pytest.mark.ex2_1
def test_named_parameters_by_hand() -> None:
    model = TinyLM()
    model.ln_f.bias = None  # the name stays registered, holding no parameter
    listed = list(model.named_parameters())
    assert all(p is not None for _, p in listed), (
        f"named_parameters listed {[n for n, p in listed if p is None]} with None: a name whose parameter was "
        "set to None (the name stays registered, holding nothing) is not listed"
    )
    names = [n for n, _ in listed]
    assert "lm_head.weight" not in names or "wte.weight" not in names, (
        "named_parameters listed the tied weight twice (wte.weight and lm_head.weight are one Parameter): list a "
        "parameter shared by two modules once, under its first name, or an optimizer would update it twice"
    )
    expected = [n for n in TINY_NAMES if n != "ln_f.bias"]
    wrong = [n for n in names if n not in expected]
    assert not wrong, (
        f"named_parameters gave the names {wrong[:3]}: a submodule's parameter is named by its path from the "
        "model, the module names and its own name joined by dots (h.0.fc.weight)"
    )
    assert names == expected, (
        f"named_parameters gave {names}: the order is registration order, each module before its children "
        f"(named_modules' walk), its own parameters in the order they were assigned; expected {expected}"
    )
    assert all(
        p is getattr(dict(model.named_modules())[n.rpartition(".")[0]], n.rpartition(".")[2]) for n, p in listed
    ), "named_parameters paired a name with another module's parameter"
    every = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    assert every == [*expected, "lm_head.weight"], (
        f"named_parameters(remove_duplicate=False) gave {every[-3:]} at the end: with remove_duplicate=False a "
        "shared parameter is listed under every name it has"
    )
    assert [n for n, _ in model.h[0].named_parameters(prefix="h.0")] == [f"h.0.{n}" for n in BLOCK_PARAMS], (
        "named_parameters(prefix='h.0') must start every name with the prefix and a dot"
    )


def test_dotted_names_of_a_nested_model_in_registration_order() -> None:
    model = TinyLM()
    names = [n for n, _ in model.named_parameters()]
    assert names == TINY_NAMES, (
        f"named_parameters: unexpected {[n for n in names if n not in TINY_NAMES]}, missing "
        f"{[n for n in TINY_NAMES if n not in names]}: dotted names in registration order, each parameter once "
        f"(a tied weight shared by two modules is listed under its first name only)"
    )
    assert "scale" not in dict(model.named_parameters())


def test_reassigning_an_attribute_replaces_its_registration() -> None:
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.w = None  # the name stays a parameter's, holding nothing (as Linear(bias=False) does)
    m.sub = nn.Parameter(np.ones(3))  # a module name reused for a parameter
    assert [n for n, _ in m.named_parameters()] == ["sub"]
    assert list(m.children()) == []
    assert m.w is None and "w" not in m.state_dict()


def test_setattr_before_init_is_a_clear_error() -> None:
    class Forgot(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot()


def test_children_and_modules() -> None:
    model = TinyLM()
    assert [type(m).__name__ for m in model.children()] == ["Embedding", "ModuleList", "LayerNorm", "Linear"]
    names = [n for n, _ in model.named_modules()]
    assert names[:4] == ["", "wte", "h", "h.0"]
    assert names[4:8] == ["h.0.ln", "h.0.fc", "h.0.proj", "h.0.drop"]
    assert names[-2:] == ["ln_f", "lm_head"]
    assert len(list(model.modules())) == len(names) == 1 + 1 + 1 + 2 * 5 + 2


def test_shared_module_is_walked_once() -> None:
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.modules())) == 3  # seq, shared, relu
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]


def test_tied_parameter_listed_once_but_saved_under_both_names() -> None:
    model = TinyLM()
    params = list(model.parameters())
    assert sum(p is model.wte.weight for p in params) == 1
    assert "lm_head.weight" not in dict(model.named_parameters())
    assert len(list(model.named_parameters(remove_duplicate=False))) == len(TINY_NAMES) + 1
    sd = model.state_dict()
    assert list(sd) == TINY_NAMES[:-2] + ["ln_f.weight", "ln_f.bias", "lm_head.weight"]
    assert sd["lm_head.weight"] is sd["wte.weight"]
    assert model.num_parameters() == sum(p.data.size for p in params)
    assert model.num_parameters() == 7 * 4 + 2 * (4 + 4 + 32 + 8 + 32 + 4) + 8


def test_containers() -> None:
    a, b = nn.Linear(2, 3), nn.Linear(3, 1)
    seq = nn.Sequential(a, nn.ReLU(), b)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is b and list(seq)[1].__class__ is nn.ReLU
    x = Tensor(np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32))
    np.testing.assert_array_equal(seq(x).data, b(F.relu(a(x))).data)
    ml = nn.ModuleList([a]).append(b)
    assert len(ml) == 2 and ml[1] is b and [n for n, _ in ml.named_parameters()][2] == "1.weight"
    md = nn.ModuleDict({"enc": a})
    md["dec"] = b
    assert list(md) == ["enc", "dec"] and "dec" in md and md["enc"] is a and len(md) == 2
    assert list(md.keys()) == ["enc", "dec"] and list(md.values()) == [a, b]
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]


def test_module_call_runs_forward() -> None:
    class Double(nn.Module):
        def forward(self, x: Tensor, times: int = 2) -> Tensor:
            return x * times

    assert Double()(Tensor([1.0, 2.0]), times=3).tolist() == [3.0, 6.0]
    with pytest.raises(NotImplementedError, match="Module.forward"):
        nn.Module()(Tensor([1.0]))


# ----- modes, gradients, dtype ------------------------------------------------------------
def test_train_eval_switches_dropout_everywhere() -> None:
    model = TinyLM()
    ids = np.array([[1, 2, 3, 4]])
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    np.testing.assert_array_equal(
        model(ids).data,
        model(ids).data,  # deterministic in eval
        err_msg="two eval-mode calls differ: dropout must be off after model.eval() (pass self.training to F.dropout)",
    )
    model.train()
    assert all(m.training for m in model.modules())
    assert not np.array_equal(model(ids).data, model(ids).data), "dropout should make training runs differ"


def test_dropout_layer_modes() -> None:
    drop = nn.Dropout(0.5)
    x = Tensor(np.ones((50, 40), dtype=np.float32))
    y = drop(x).data
    assert set(np.unique(y)) == {0.0, 2.0}
    assert drop.eval()(x) is x  # the identity in eval mode, not even a copy


def test_zero_grad() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    model(x).sum().backward()
    assert all(p.grad is not None and np.any(p.grad.data != 0) for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad.data) for p in model.parameters())
    model(x).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_until_zeroed() -> None:
    lin = nn.Linear(3, 2)
    x = Tensor(np.ones((1, 3), dtype=np.float32))
    lin(x).sum().backward()
    once = lin.weight.grad.data.copy()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, 2 * once)


def test_to_float64_and_back() -> None:
    model = TinyLM()
    before = model.state_dict()["h.0.fc.weight"].copy()
    assert model.to(np.float64) is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.lm_head.weight is model.wte.weight, "tying survives the conversion"
    out = model.eval()(np.array([[0, 1, 2]]))
    assert out.dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    np.testing.assert_array_equal(model.state_dict()["h.0.fc.weight"], before)


def test_to_converts_float_buffers_only() -> None:
    m = nn.Module()
    m.register_buffer("running", np.zeros(3, dtype=np.float32))
    m.register_buffer("counts", np.zeros(3, dtype=np.int64))
    m.register_buffer("scratch", np.zeros(2, dtype=np.float32), persistent=False)
    m.double()
    assert m.running.dtype == np.float64 and m.counts.dtype == np.int64
    assert list(m.state_dict()) == ["running", "counts"]


# ----- repr ---------------------------------------------------------------------------------
def test_repr_like_pytorch() -> None:
    """The expected text is what PyTorch 2.13 prints for the same model (Dropout aside:
    PyTorch adds `inplace=False`, an argument numpygpt does not have)."""
    model = TinyLM()
    assert (
        repr(model)
        == """TinyLM(
  (wte): Embedding(7, 4)
  (h): ModuleList(
    (0-1): 2 x Block(
      (ln): LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
      (fc): Linear(in_features=4, out_features=8, bias=True)
      (proj): Linear(in_features=8, out_features=4, bias=True)
      (drop): Dropout(p=0.5)
    )
  )
  (ln_f): LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
  (lm_head): Linear(in_features=4, out_features=7, bias=False)
)"""
    )
    seq = nn.Sequential(
        nn.GELU(approximate="tanh"), nn.ReLU(), nn.Tanh(), nn.Softmax(dim=-1), nn.LayerNorm(3, bias=False)
    )
    assert (
        repr(seq)
        == """Sequential(
  (0): GELU(approximate='tanh')
  (1): ReLU()
  (2): Tanh()
  (3): Softmax(dim=-1)
  (4): LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=False)
)"""
    )
    assert (
        repr(nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.Tanh()])) == "ModuleList(\n  (0): ReLU()\n  (1-2): 2 x Tanh()\n)"
    )
    assert (
        repr(nn.LayerNorm(4, elementwise_affine=False))
        == "LayerNorm((4,), eps=1e-05, elementwise_affine=False, bias=False)"
    )


def test_repr_of_a_module_with_extra_text_and_children() -> None:
    """PyTorch puts a parent's own description on a line above its children."""

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(2, 2)

        def extra_repr(self) -> str:
            return "n_head=4"

    assert repr(Head()) == "Head(\n  n_head=4\n  (proj): Linear(in_features=2, out_features=2, bias=True)\n)"


# ----- state_dict -----------------------------------------------------------------------------
def test_state_dict_round_trip_through_a_file(tmp_path: Path) -> None:
    nn.manual_seed(0)
    model = TinyLM().eval()
    ids = np.array([[1, 2, 3], [6, 0, 0]])
    expected = model(ids).data.copy()
    path = tmp_path / "ckpt.npz"
    np.savez(path, **model.state_dict())

    nn.manual_seed(1)
    fresh = TinyLM().eval()
    assert not np.array_equal(fresh(ids).data, expected)
    with np.load(path) as ckpt:
        assert sorted(ckpt.files) == sorted(model.state_dict())
        result = fresh.load_state_dict(ckpt)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(fresh(ids).data, expected)
    assert fresh.lm_head.weight is fresh.wte.weight, "loading copies in place: tying survives"


def test_load_state_dict_copies_in_place_and_keeps_dtype() -> None:
    lin = nn.Linear(2, 2)
    w = lin.weight
    lin.load_state_dict({"weight": np.ones((2, 2)), "bias": Tensor(np.zeros(2))})  # float64 in
    assert lin.weight is w and w.dtype == np.float32
    np.testing.assert_array_equal(w.data, np.ones((2, 2)))


def test_state_dict_arrays_are_live() -> None:
    lin = nn.Linear(2, 2)
    lin.state_dict()["bias"][...] = 5
    np.testing.assert_array_equal(lin.bias.data, [5, 5])


def test_strict_load_lists_every_problem() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    sd = dict(model.state_dict())
    del sd["1.bias"], sd["0.bias"]
    sd["0.weight"] = np.zeros((4, 5))
    sd["2.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(sd)
    msg = str(err.value)
    assert "load_state_dict for Sequential" in msg
    assert "missing keys: 0.bias, 1.bias" in msg
    assert "unexpected keys: 2.weight" in msg
    assert "shape mismatch: 0.weight: checkpoint (4, 5) vs model (4, 3)" in msg


def test_strict_load_changes_nothing_on_error() -> None:
    lin = nn.Linear(2, 2)
    before = lin.weight.data.copy()
    with pytest.raises(RuntimeError, match="missing keys: bias"):
        lin.load_state_dict({"weight": np.zeros((2, 2))})
    np.testing.assert_array_equal(lin.weight.data, before)


def test_non_strict_load_returns_missing_and_unexpected() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    result = model.load_state_dict({"0.weight": np.ones((4, 3)), "extra": np.zeros(1)}, strict=False)
    assert result == nn.IncompatibleKeys(["0.bias", "1.weight", "1.bias"], ["extra"])
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, np.ones((4, 3)))
    with pytest.raises(RuntimeError, match=r"shape mismatch: 0.weight: checkpoint \(3, 3\) vs model \(4, 3\)"):
        model.load_state_dict({"0.weight": np.ones((3, 3))}, strict=False)


# ----- forward hooks ----------------------------------------------------------------------
def test_forward_hook_sees_module_args_and_output_in_call_order() -> None:
    nn.manual_seed(0)
    model = TinyLM().eval()  # no dropout: two calls give the same logits
    seen: list[tuple[str, object, tuple[int, ...], tuple[int, ...]]] = []

    def record(name: str):
        return lambda m, args, out: seen.append((name, m, args[0].shape, out.shape))

    ids = np.array([[1, 2, 3]])
    handles = [m.register_forward_hook(record(n)) for n, m in model.named_modules() if n in ("h.0.fc", "h.1", "ln_f")]
    logits = model(ids)
    assert [(n, m) for n, m, _, _ in seen] == [("h.0.fc", model.h[0].fc), ("h.1", model.h[1]), ("ln_f", model.ln_f)]
    assert [(a, o) for _, _, a, o in seen] == [((1, 3, 4), (1, 3, 8)), ((1, 3, 4), (1, 3, 4)), ((1, 3, 4), (1, 3, 4))]
    for h in handles:
        h.remove()
    seen.clear()
    np.testing.assert_array_equal(model(ids).data, logits.data)  # looking changes nothing
    assert seen == [], "a removed hook is not called again"


def test_forward_hook_gets_the_positional_arguments_as_a_tuple() -> None:
    lin = nn.Linear(2, 3)
    got: list[tuple[object, ...]] = []
    lin.register_forward_hook(lambda m, args, out: got.append(args))
    x = Tensor(np.ones((1, 2), np.float32))
    lin(x)
    assert len(got) == 1 and isinstance(got[0], tuple) and got[0][0] is x


def test_a_hook_that_returns_a_value_replaces_the_output_for_the_caller_and_the_next_hooks() -> None:
    lin = nn.Linear(2, 2)
    x = Tensor(np.ones((1, 2), np.float32))
    plain = lin(x).data
    later: list[np.ndarray] = []
    lin.register_forward_hook(lambda m, args, out: out * 2.0)
    lin.register_forward_hook(lambda m, args, out: later.append(out.data.copy()))  # returns None: only looks
    out = lin(x)
    np.testing.assert_allclose(out.data, 2 * plain)
    np.testing.assert_allclose(later[0], 2 * plain)
    out.sum().backward()  # the replaced output is still on the graph
    np.testing.assert_allclose(lin.bias.grad.data, [2.0, 2.0])


def test_hooks_run_in_registration_order_and_prepend_goes_first() -> None:
    lin = nn.Linear(1, 1)
    order: list[str] = []
    lin.register_forward_hook(lambda m, a, o: order.append("a"))
    lin.register_forward_hook(lambda m, a, o: order.append("b"))
    lin.register_forward_hook(lambda m, a, o: order.append("first"), prepend=True)
    lin(Tensor(np.ones((1, 1), np.float32)))
    assert order == ["first", "a", "b"]


def test_handle_as_context_manager_and_removing_twice_or_from_inside_a_hook() -> None:
    lin = nn.Linear(1, 1)
    x = Tensor(np.ones((1, 1), np.float32))
    calls: list[int] = []
    with lin.register_forward_hook(lambda m, a, o: calls.append(1)) as handle:
        lin(x)
    lin(x)
    assert calls == [1], "the hook is removed when the with-block ends"
    handle.remove()  # a second remove is harmless

    def once(m: nn.Module, args: tuple[object, ...], out: object) -> None:
        calls.append(2)
        own.remove()

    own = lin.register_forward_hook(once)
    lin(x)
    lin(x)
    assert calls == [1, 2]
    assert isinstance(own, nn.RemovableHandle)


def test_register_forward_hook_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="register_forward_hook: hook must be callable, got int"):
        nn.Linear(1, 1).register_forward_hook(3)  # type: ignore[arg-type]
