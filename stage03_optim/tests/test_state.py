"""state_dict / load_state_dict: a resumed run is bit-identical to one that never stopped."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, Adam, AdamW, Optimizer, configure_weight_decay
from numpygpt.optim.lr_scheduler import WarmupCosineLR

pytestmark = pytest.mark.state

RNG = np.random.default_rng(11)
X = RNG.standard_normal((16, 6)).astype(np.float32)
Y = RNG.standard_normal((16, 4)).astype(np.float32)
W0 = RNG.standard_normal((6, 4)).astype(np.float32)
B0 = RNG.standard_normal(4).astype(np.float32)


def fresh_params() -> dict[str, Tensor]:
    return {"w": Tensor(W0.copy(), requires_grad=True), "b": Tensor(B0.copy(), requires_grad=True)}


def set_grads(params: dict[str, Tensor]) -> None:
    """The least-squares gradient at the current parameters: any drift in the state shows up."""
    R = X @ params["w"].data + params["b"].data - Y  # (16, 4)
    params["w"].grad = Tensor(X.T @ R / np.float32(16))
    params["b"].grad = Tensor(R.mean(axis=0))


OPTIMIZERS: dict[str, Callable[[dict[str, Tensor]], Optimizer]] = {
    "sgd_nesterov": lambda ps: SGD(ps.values(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam_amsgrad": lambda ps: Adam(ps.values(), lr=0.01, amsgrad=True),
    "adamw_groups": lambda ps: AdamW(configure_weight_decay(ps.items(), 0.1), lr=0.01, betas=(0.8, 0.95)),
}


def train(opt: Optimizer, params: dict[str, Tensor], steps: int) -> None:
    for _ in range(steps):
        set_grads(params)
        opt.step()
        opt.zero_grad()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_is_bit_identical(name: str) -> None:
    n = 7
    straight = fresh_params()
    opt = OPTIMIZERS[name](straight)
    train(opt, straight, 2 * n)

    first = fresh_params()
    opt1 = OPTIMIZERS[name](first)
    train(opt1, first, n)
    # A checkpoint as it goes to disk: parameters and optimizer state, pickled.
    blob = pickle.dumps({"params": {k: p.data for k, p in first.items()}, "optim": opt1.state_dict()})
    del opt1, first

    ckpt = pickle.loads(blob)
    resumed = {k: Tensor(v, requires_grad=True) for k, v in ckpt["params"].items()}
    opt2 = OPTIMIZERS[name](resumed)
    opt2.load_state_dict(ckpt["optim"])
    train(opt2, resumed, n)

    for k in straight:
        assert np.array_equal(resumed[k].data, straight[k].data), f"{name}: {k} differs after resuming"
    for p_straight, p_resumed in zip(straight.values(), resumed.values(), strict=True):
        for key, value in opt.state[p_straight].items():
            assert np.array_equal(opt2.state[p_resumed][key], value), f"{name}: state {key!r} differs"


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_without_the_state_the_run_differs(name: str) -> None:
    """The control for the test above: a fresh optimizer on trained weights is not a resume."""
    straight, resumed = fresh_params(), fresh_params()
    train(OPTIMIZERS[name](straight), straight, 6)
    opt = OPTIMIZERS[name](resumed)
    train(opt, resumed, 3)
    train(OPTIMIZERS[name](resumed), resumed, 3)
    assert not np.array_equal(resumed["w"].data, straight["w"].data)


def test_state_dict_structure_is_pytorchs() -> None:
    params = fresh_params()
    opt = AdamW(configure_weight_decay(params.items(), 0.1), lr=0.01)
    train(opt, params, 2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["weight_decay"] for g in sd["param_groups"]] == [0.1, 0.0]
    assert [g["param_names"] for g in sd["param_groups"]] == [["w"], ["b"]]
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"] == 2 and sd["state"][0]["exp_avg"].shape == (6, 4)


def test_state_dict_is_a_snapshot() -> None:
    params = fresh_params()
    opt = Adam(params.values(), lr=0.01)
    train(opt, params, 2)
    sd = opt.state_dict()
    saved = sd["state"][0]["exp_avg"].copy()
    train(opt, params, 2)
    assert sd["state"][0]["step"] == 2
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)
    sd["param_groups"][0]["lr"] = 123.0
    assert opt.param_groups[0]["lr"] == 0.01


def test_load_copies_and_casts_to_the_parameter_dtype() -> None:
    p64 = Tensor(np.ones(3), requires_grad=True)
    opt64 = Adam([p64], lr=0.1)
    p64.grad = Tensor(np.full(3, 0.3))
    opt64.step()
    sd = opt64.state_dict()

    p32 = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt32 = Adam([p32], lr=0.5)
    opt32.load_state_dict(sd)
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    assert opt32.param_groups[0]["lr"] == 0.1, "hyper-parameters come from the checkpoint"
    assert opt32.param_groups[0]["params"][0] is p32
    opt32.state[p32]["exp_avg"][:] = 7
    assert sd["state"][0]["exp_avg"][0] != 7, "loading must copy the saved arrays"


def test_a_step_count_saved_as_a_0d_array_loads_as_an_int() -> None:
    params = fresh_params()
    opt = Adam(params.values(), lr=0.01)
    train(opt, params, 3)
    sd = opt.state_dict()
    for s in sd["state"].values():
        s["step"] = np.asarray(s["step"])  # as an .npz checkpoint would give it back
    resumed = Adam(params.values(), lr=0.01)
    resumed.load_state_dict(sd)
    assert all(type(s["step"]) is int and s["step"] == 3 for s in resumed.state.values())


def test_adamw_stays_decoupled_when_loading_an_adam_checkpoint() -> None:
    p = Tensor(np.ones(2, np.float32), requires_grad=True)
    sd = Adam([p], weight_decay=0.1).state_dict()
    opt = AdamW([p])
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert opt.param_groups[0]["weight_decay"] == 0.1


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), lr=st.sampled_from([1e-3, 3e-2]))
def test_optimizer_and_schedule_resume_together(n: int, m: int, lr: float) -> None:
    def make(ps: dict[str, Tensor]) -> tuple[AdamW, WarmupCosineLR]:
        opt = AdamW(configure_weight_decay(ps.items(), 0.1), lr=lr)
        return opt, WarmupCosineLR(opt, warmup_iters=3, max_iters=10, min_lr=lr / 10)

    def run(opt: AdamW, sched: WarmupCosineLR, ps: dict[str, Tensor], steps: int) -> None:
        for _ in range(steps):
            set_grads(ps)
            opt.step()
            sched.step()

    straight = fresh_params()
    opt, sched = make(straight)
    run(opt, sched, straight, n + m)

    first = fresh_params()
    opt1, sched1 = make(first)
    run(opt1, sched1, first, n)
    ckpt = pickle.loads(pickle.dumps((opt1.state_dict(), sched1.state_dict())))
    resumed = {k: Tensor(p.data.copy(), requires_grad=True) for k, p in first.items()}
    opt2, sched2 = make(resumed)  # building the scheduler first, then loading both
    opt2.load_state_dict(ckpt[0])
    sched2.load_state_dict(ckpt[1])
    run(opt2, sched2, resumed, m)

    assert sched2.get_last_lr() == sched.get_last_lr()
    for k in straight:
        assert np.array_equal(resumed[k].data, straight[k].data)


@pytest.mark.errors
def test_loading_a_checkpoint_of_another_shape() -> None:
    a, b, c = (Tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(3))
    sd = SGD([{"params": [a]}, {"params": [b]}], momentum=0.9).state_dict()
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        SGD([a, b]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        SGD([{"params": [a, c]}, {"params": [b]}]).load_state_dict(sd)

    a.grad = Tensor(np.ones(2, np.float32))
    opt = SGD([a], momentum=0.9)
    opt.step()
    sd = opt.state_dict()
    big = Tensor(np.ones(5, np.float32), requires_grad=True)
    message = r"state 'momentum_buffer' of parameter 0 has shape \(2,\), but that parameter has shape \(5,\)"
    with pytest.raises(ValueError, match=message):
        SGD([big], momentum=0.9).load_state_dict(sd)
    sd["state"][3] = sd["state"].pop(0)
    with pytest.raises(ValueError, match="state for parameter 3, which is in none of its parameter groups"):
        SGD([a], momentum=0.9).load_state_dict(sd)
