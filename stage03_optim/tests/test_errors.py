"""Every message a learner can meet when an optimizer, a clip or a schedule is misused.

Each message names the argument, shows the value received and says what is allowed; where
PyTorch checks the same thing its words come first (`Invalid learning rate: nan`). The issue
that asked for these: SGD(lr=nan), a group with lr=nan, WarmupCosineLR(min_lr=nan or
max_iters=nan) trained on NaN; clip_grad_norm_(params, -1.0) flipped every gradient;
Adam(betas=(0.9,)) raised IndexError; AdamW.load_state_dict(sgd.state_dict()) failed only
later, at step(), with KeyError 'betas'. Also here: a refused load leaves the optimizer or the
schedule exactly as it was, and NumPy scalars work wherever Python numbers do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.optim import (
    SGD,
    Adam,
    AdamW,
    Optimizer,
    clip_grad_norm_,
    clip_grads_with_norm_,
    configure_weight_decay,
    get_total_norm,
)
from numpygpt.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, StepLR, WarmupCosineLR

pytestmark = pytest.mark.errors
NAN, INF = float("nan"), float("inf")


def param(*shape: int) -> Tensor:
    return Tensor(np.ones(shape or (2,), np.float32), requires_grad=True)


def with_grad(grad: Any, *shape: int) -> Tensor:
    p = param(*shape)
    p.grad = grad
    return p


def stepped(opt: Optimizer) -> Optimizer:
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = Tensor(np.full(p.shape, 0.5, p.dtype))
    opt.step()
    return opt


def broken(make: Callable[[], Optimizer], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The state_dict of a stepped optimizer, with one thing changed."""
    sd = stepped(make()).state_dict()
    change(sd)
    return sd


def sgd() -> SGD:
    return SGD([param()], lr=0.1, momentum=0.9)


def adam() -> Adam:
    return Adam([param()], lr=0.1)


def warmup() -> WarmupCosineLR:
    return WarmupCosineLR(SGD([param()], lr=0.1), warmup_iters=2, max_iters=10)


def scheduler_state(make: Callable[[], Any], **changes: Any) -> dict[str, Any]:
    sd = make().state_dict()
    sd.update(changes)
    return sd


ERRORS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # ----- the optimizer's arguments ------------------------------------------------------------
    ("lr nan", lambda: SGD([param()], lr=NAN), ValueError, r"^Invalid learning rate: nan \(lr must be a finite number >= 0\)$"),
    ("lr inf", lambda: Adam([param()], lr=INF), ValueError, r"^Invalid learning rate: inf \(lr must be a finite"),
    ("lr str", lambda: SGD([param()], lr="0.1"), TypeError, r"^Invalid learning rate: '0\.1' \(lr must be a finite number >= 0, got str\)$"),
    ("lr bool", lambda: SGD([param()], lr=True), TypeError, r"^Invalid learning rate: True \(lr must be .*, got bool\)$"),
    ("lr huge int", lambda: SGD([param()], lr=10**400), ValueError, r"^Invalid learning rate: 1000000000000000000000000000000000000000\.\.\. \(401 characters\)"),
    ("group lr nan", lambda: SGD([{"params": [param()], "lr": NAN}], lr=0.1), ValueError, r"^Invalid learning rate: nan \(lr must be"),
    ("group initial_lr", lambda: SGD([{"params": [param()], "initial_lr": -1}]), ValueError, r"^Invalid learning rate: -1 \(initial_lr must be a finite number >= 0\)$"),
    ("momentum nan", lambda: SGD([param()], momentum=NAN), ValueError, r"^Invalid momentum value: nan \(momentum must be a finite number >= 0\)$"),
    ("weight_decay inf", lambda: SGD([param()], weight_decay=INF), ValueError, r"^Invalid weight_decay value: inf \(weight_decay must be"),
    ("dampening", lambda: SGD([param()], dampening=1.5), ValueError, r"^Invalid dampening value: 1\.5 \(dampening must be a number in \[0, 1\]\)$"),
    ("nesterov str", lambda: SGD([param()], momentum=0.9, nesterov="yes"), TypeError, r"^SGD: nesterov must be True or False, got str 'yes'$"),
    ("nesterov needs", lambda: SGD([param()], nesterov=True), ValueError, r"^Nesterov momentum requires a momentum and zero dampening \(nesterov=True needs momentum > 0 and dampening 0, got momentum=0\.0, dampening=0\.0\)$"),
    ("betas one", lambda: Adam([param()], betas=(0.9,)), ValueError, r"^Adam: betas must be a pair \(beta1, beta2\) of numbers in \[0, 1\), got \(0\.9,\)$"),
    ("betas three", lambda: AdamW([param()], betas=(0.9, 0.9, 0.9)), ValueError, r"^AdamW: betas must be a pair"),
    ("betas number", lambda: Adam([param()], betas=0.9), TypeError, r"^Adam: betas must be a pair \(beta1, beta2\) of numbers in \[0, 1\), got 0\.9$"),
    ("betas nan", lambda: Adam([param()], betas=(0.9, NAN)), ValueError, r"^Invalid beta parameter at index 1: nan \(betas\[1\] must be a number in \[0, 1\)\)$"),
    ("betas str", lambda: Adam([param()], betas=("0.9", 0.99)), TypeError, r"^Invalid beta parameter at index 0: '0\.9' \(betas\[0\] must be a number in \[0, 1\), got str\)$"),
    ("eps inf", lambda: Adam([param()], eps=INF), ValueError, r"^Invalid epsilon value: inf \(eps must be a finite number >= 0\)$"),
    ("amsgrad", lambda: Adam([param()], amsgrad=1), TypeError, r"^Adam: amsgrad must be True or False, got int 1$"),
    ("decoupled", lambda: Adam([param()], decoupled_weight_decay=None), TypeError, r"^Adam: decoupled_weight_decay must be True or False, got NoneType None$"),
    ("defaults", lambda: Optimizer([param()], None), TypeError, r"^optimizer defaults must be a dict of hyper-parameters, got NoneType$"),
    # ----- the parameters -----------------------------------------------------------------------
    ("params dict", lambda: SGD({"w": param()}), TypeError, r"should be an iterable of Tensors or dicts, but got dict \(pass model\.parameters\(\), not a dict\)$"),
    ("params None", lambda: AdamW(None), TypeError, r"should be an iterable of Tensors or dicts, but got NoneType$"),
    ("params 0-d array", lambda: SGD(np.array(0.5)), TypeError, r"^SGD: params must be an iterable of Tensors or dicts, got numpy\.ndarray array\(0\.5\)$"),
    ("group without params", lambda: SGD([{"lr": 0.1}]), ValueError, r"^param_group must have a 'params' entry holding its parameters, got the keys \['lr'\]$"),
    ("group params dict", lambda: SGD([{"params": {"w": param()}}]), TypeError, r"^param_group\['params'\] must be a Tensor or an iterable of Tensors, but got dict$"),
    ("group params int", lambda: SGD([{"params": 3}]), TypeError, r"^add_param_group: param_group\['params'\] must be a Tensor or an iterable of Tensors, got int 3$"),
    ("bad pair", lambda: SGD([("w",)]), TypeError, r"^optimizer params given as pairs must be \(name: str, Tensor\), but one of them is \('w',\)$"),
    ("int param", lambda: SGD([Tensor(np.ones(2, np.int64))]), TypeError, r"^optimizer can only optimize floating point Tensors, but one of the params has dtype int64$"),
    ("non-leaf", lambda: SGD([param() * 2]), ValueError, r"^can't optimize a non-leaf Tensor: one of the params was computed from other tensors \(params must be leaves such as model\.parameters\(\); use \.detach\(\) for a copy\)$"),
    # ----- zero_grad and step -------------------------------------------------------------------
    ("set_to_none", lambda: sgd().zero_grad("yes"), TypeError, r"^SGD\.zero_grad: set_to_none must be True or False, got str 'yes'$"),
    ("closure", lambda: adam().step(3), TypeError, r"^Adam\.step: closure must be a function that computes and returns the loss, or None, got int$"),
    ("grad array", lambda: SGD([with_grad(np.ones(2))]).step(), TypeError, r"^SGD\.step: parameter 0 has a \.grad of type numpy\.ndarray; a \.grad must be a Tensor \(or None\)$"),
    ("grad shape", lambda: AdamW([with_grad(Tensor(np.ones(3, np.float32)))]).step(), ValueError, r"^AdamW\.step: parameter 0 has a \.grad of shape \(3,\), but the parameter has shape \(2,\)$"),
    # ----- load_state_dict ----------------------------------------------------------------------
    ("sgd into adamw", lambda: AdamW([param()]).load_state_dict(stepped(sgd()).state_dict()), ValueError, r"^AdamW\.load_state_dict: param group 0 of state_dict does not fit AdamW: it lacks \['amsgrad', 'betas', 'decoupled_weight_decay', 'eps'\] and has \['dampening', 'momentum', 'nesterov'\], which AdamW does not use \(is it another optimizer's state\?\)$"),
    ("adam into sgd", lambda: SGD([param()]).load_state_dict(stepped(adam()).state_dict()), ValueError, r"^SGD\.load_state_dict: param group 0 of state_dict does not fit SGD: it lacks \['dampening', 'momentum', 'nesterov'\] and has \["),
    ("load None", lambda: adam().load_state_dict(None), TypeError, r"^Adam\.load_state_dict: state_dict must be a dict as state_dict\(\) returns, got NoneType$"),
    ("load {}", lambda: adam().load_state_dict({}), ValueError, r"^Adam\.load_state_dict: state_dict has no param_groups or state: expected the dict that state_dict\(\) returns, with the keys 'state' and 'param_groups', got \[\]$"),
    ("groups str", lambda: adam().load_state_dict({"state": {}, "param_groups": "x"}), TypeError, r"^Adam\.load_state_dict: state_dict\['param_groups'\] must be a list of dicts, got 'x'$"),
    ("group indices", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd["param_groups"][0].update(params=["0"]))), TypeError, r"^SGD\.load_state_dict: param group 0 of state_dict must have 'params', a list of parameter indices, got \['0'\]$"),
    ("group lr nan", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd["param_groups"][0].update(lr=NAN))), ValueError, r"^SGD\.load_state_dict: param group 0 of state_dict: Invalid learning rate: nan \(lr must be"),
    ("state list", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd.update(state=[]))), TypeError, r"^SGD\.load_state_dict: state_dict\['state'\] must be a dict keyed by parameter index, got list$"),
    ("state entry", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd["state"].update({0: 3}))), TypeError, r"^SGD\.load_state_dict: the state of parameter 0 must be a dict, got int$"),
    ("state keys", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd["state"][0].update(exp_avg=np.ones(2)))), ValueError, r"^SGD\.load_state_dict: the state of parameter 0 does not fit SGD: it has \['exp_avg', 'momentum_buffer'\], expected \[\] \(optional: \['momentum_buffer'\]\)$"),
    ("state lacks", lambda: adam().load_state_dict(broken(adam, lambda sd: sd["state"][0].pop("exp_avg"))), ValueError, r"^Adam\.load_state_dict: the state of parameter 0 does not fit Adam: it has \['exp_avg_sq', 'step'\], expected \['exp_avg', 'exp_avg_sq', 'step'\] \(optional: \['max_exp_avg_sq'\]\)$"),
    ("state number", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd["state"][0].update(momentum_buffer=0.5))), TypeError, r"^SGD\.load_state_dict: state 'momentum_buffer' of parameter 0 must be an array of shape \(2,\), got float$"),
    ("state strings", lambda: sgd().load_state_dict(broken(sgd, lambda sd: sd["state"][0].update(momentum_buffer=np.array(["a", "b"])))), TypeError, r"^SGD\.load_state_dict: state 'momentum_buffer' of parameter 0 must hold numbers, got dtype <U1$"),
    ("state nan", lambda: adam().load_state_dict(broken(adam, lambda sd: sd["state"][0].update(exp_avg_sq=np.array([NAN, 1.0])))), ValueError, r"^Adam\.load_state_dict: state 'exp_avg_sq' of parameter 0 holds nan or inf: the run that saved it had diverged$"),
    ("state step", lambda: adam().load_state_dict(broken(adam, lambda sd: sd["state"][0].update(step=-1))), ValueError, r"^Adam\.load_state_dict: state 'step' of parameter 0 must be a whole number of steps >= 0, got -1$"),
    ("state step float", lambda: adam().load_state_dict(broken(adam, lambda sd: sd["state"][0].update(step=2.5))), ValueError, r"state 'step' of parameter 0 must be a whole number of steps >= 0, got 2\.5$"),
    # ----- clipping -----------------------------------------------------------------------------
    ("max_norm negative", lambda: clip_grad_norm_([with_grad(Tensor(np.ones(2, np.float32)))], -1.0), ValueError, r"^clip_grad_norm_: max_norm must be a number >= 0 \(float\('inf'\) never clips\), got -1\.0$"),
    ("max_norm nan", lambda: clip_grad_norm_([param()], NAN), ValueError, r"^clip_grad_norm_: max_norm must be a number >= 0 .*, got nan$"),
    ("max_norm str", lambda: clip_grad_norm_([param()], "1"), TypeError, r"^clip_grad_norm_: max_norm must be a number >= 0 \(float\('inf'\) never clips\), got str '1'$"),
    ("norm_type nan", lambda: clip_grad_norm_([param()], 1.0, norm_type=NAN), ValueError, r"^clip_grad_norm_: norm_type must be a number \(float\('inf'\) or 'inf' for the max norm\), got nan$"),
    ("norm_type fro", lambda: get_total_norm([param()], norm_type="fro"), TypeError, r"^get_total_norm: norm_type must be a number \(float\('inf'\) or 'inf' for the max norm\), got str 'fro'$"),
    ("error_if_nonfinite", lambda: clip_grad_norm_([param()], 1.0, error_if_nonfinite=None), TypeError, r"^clip_grad_norm_: error_if_nonfinite must be True or False, got NoneType None$"),
    ("parameters None", lambda: clip_grad_norm_(None, 1.0), TypeError, r"^clip_grad_norm_: parameters must be a Tensor or an iterable of Tensors, got NoneType None$"),
    ("parameters [None]", lambda: clip_grad_norm_([None], 1.0), TypeError, r"^clip_grad_norm_: parameters must be Tensors, but item 0 is NoneType$"),
    ("int grad", lambda: clip_grad_norm_([with_grad(Tensor(np.ones(2, np.int64)))], 1.0), TypeError, r"^clip_grad_norm_: parameters\[0\]\.grad must be a floating point Tensor of the parameter's shape \(2,\), got dtype int64 and shape \(2,\)$"),
    ("grad array", lambda: clip_grads_with_norm_([with_grad(np.ones(2))], 1.0, 2.0), TypeError, r"^clip_grads_with_norm_: parameters\[0\]\.grad must be a floating point Tensor of the parameter's shape \(2,\), got type numpy\.ndarray$"),
    ("int tensors", lambda: get_total_norm([Tensor(np.ones(2, np.int64))]), TypeError, r"^get_total_norm: tensors must be floating point \(gradients are\), but tensor 0 has dtype int64$"),
    ("total_norm negative", lambda: clip_grads_with_norm_([param()], 1.0, -1.0), ValueError, r"^clip_grads_with_norm_: total_norm must be a number >= 0 \(or nan/inf\), got -1\.0$"),
    ("total_norm array", lambda: clip_grads_with_norm_([param()], 1.0, Tensor(np.ones(2))), ValueError, r"^clip_grads_with_norm_: total_norm must be one floating point number, got an array of shape \(2,\) and dtype float64$"),
    # ----- configure_weight_decay ---------------------------------------------------------------
    ("decay nan", lambda: configure_weight_decay([("w", param())], NAN), ValueError, r"^Invalid weight_decay value: nan \(weight_decay must be a finite number >= 0\)$"),
    ("named Tensor", lambda: configure_weight_decay(param(), 0.1), TypeError, r"^configure_weight_decay: named_parameters must be \(name, parameter\) pairs such as model\.named_parameters\(\), or a dict of them, got a Tensor$"),
    ("named None", lambda: configure_weight_decay(None, 0.1), TypeError, r"^configure_weight_decay: named_parameters must be .*, got NoneType None$"),
    ("named name", lambda: configure_weight_decay([(1, param())], 0.1), TypeError, r"^configure_weight_decay: named_parameters must be .*, got an item of type tuple: \(1, tensor"),
    # ----- schedules ----------------------------------------------------------------------------
    ("optimizer", lambda: StepLR([0.1], step_size=2), TypeError, r"^list is not an Optimizer \(the schedule's optimizer must be one: SGD, Adam, AdamW, \.\.\.\)$"),
    ("last_epoch", lambda: StepLR(sgd(), 2, last_epoch=-5), ValueError, r"^StepLR: last_epoch must be -1 \(a new schedule\) or the index >= 0 of the last step taken, got -5$"),
    ("resume", lambda: StepLR(sgd(), 2, last_epoch=3), ValueError, r"^param 'initial_lr' is not specified in param_groups\[0\] when resuming scheduler with last_epoch >= 0 \(here last_epoch=3\): load the optimizer's state_dict first, or start a new schedule with last_epoch=-1$"),
    ("step_size float", lambda: StepLR(sgd(), 1.5), TypeError, r"^StepLR: step_size must be a positive number of steps, got float 1\.5$"),
    ("step_size huge", lambda: StepLR(sgd(), 2**63), ValueError, r"^StepLR: step_size must be a positive number of steps, got 9223372036854775808$"),
    ("gamma", lambda: StepLR(sgd(), 2, gamma=-1), ValueError, r"^StepLR: gamma must be a finite number >= 0, got -1$"),
    ("T_max nan", lambda: CosineAnnealingLR(sgd(), NAN), TypeError, r"^CosineAnnealingLR: T_max must be a positive number of steps, got float nan$"),
    ("eta_min nan", lambda: CosineAnnealingLR(sgd(), 10, eta_min=NAN), ValueError, r"^CosineAnnealingLR: eta_min must be a finite number >= 0, got nan$"),
    ("max_iters nan", lambda: WarmupCosineLR(sgd(), 10, NAN), TypeError, r"^WarmupCosineLR: max_iters must be an int greater than warmup_iters \(10\), got float nan$"),
    ("min_lr nan", lambda: WarmupCosineLR(sgd(), 1, 5, min_lr=NAN), ValueError, r"^WarmupCosineLR: min_lr must be a finite number >= 0, got nan$"),
    ("lr_lambda", lambda: LambdaLR(sgd(), 3), TypeError, r"^LambdaLR: lr_lambda must be a function of the step \(or a list of them, one per param group\), got int 3$"),
    ("lr_lambda nan", lambda: LambdaLR(sgd(), lambda t: NAN), ValueError, r"^LambdaLR: lr_lambda\(0\) returned nan for param group 0; the factor must be a finite number >= 0$"),
    ("lr_at it", lambda: warmup().lr_at(-1, 0.1), ValueError, r"^WarmupCosineLR\.lr_at: it must be a step index >= 0, got -1$"),
    ("lr_at base_lr", lambda: warmup().lr_at(1, NAN), ValueError, r"^WarmupCosineLR\.lr_at: base_lr must be a finite number >= 0, got nan$"),
    ("sched load None", lambda: warmup().load_state_dict(None), TypeError, r"^WarmupCosineLR\.load_state_dict: state_dict must be a dict as state_dict\(\) returns, got NoneType$"),
    ("sched load foreign", lambda: warmup().load_state_dict(StepLR(sgd(), 2).state_dict()), ValueError, r"^WarmupCosineLR\.load_state_dict: state_dict does not fit WarmupCosineLR: it lacks \['max_iters', 'min_lr', 'warmup_iters'\] and has \['gamma', 'step_size'\] \(is it another schedule's state\?\)$"),
    ("sched load last_epoch", lambda: warmup().load_state_dict(scheduler_state(warmup, last_epoch=NAN)), TypeError, r"^WarmupCosineLR\.load_state_dict: last_epoch must be an int >= -1, got float nan$"),
    ("sched load step count", lambda: warmup().load_state_dict(scheduler_state(warmup, _step_count=-1)), ValueError, r"^WarmupCosineLR\.load_state_dict: _step_count must be an int >= 0, got -1$"),
    ("sched load initial", lambda: warmup().load_state_dict(scheduler_state(warmup, _is_initial=0)), TypeError, r"^WarmupCosineLR\.load_state_dict: _is_initial must be True or False, got int 0$"),
    ("sched load base_lrs", lambda: warmup().load_state_dict(scheduler_state(warmup, base_lrs=[0.1, 0.2])), ValueError, r"^WarmupCosineLR\.load_state_dict: base_lrs must be a list of 1 lrs, one per param group, got \[0\.1, 0\.2\]$"),
    ("sched load lr nan", lambda: warmup().load_state_dict(scheduler_state(warmup, _last_lr=[NAN])), ValueError, r"^WarmupCosineLR\.load_state_dict: _last_lr\[0\] must be a finite number >= 0, got nan$"),
    ("sched load setting", lambda: warmup().load_state_dict(scheduler_state(warmup, max_iters=1)), ValueError, r"^WarmupCosineLR\.load_state_dict: max_iters must be an int greater than warmup_iters \(2\), got 1$"),
    ("lambdas entry", lambda: LambdaLR(sgd(), lambda t: 1.0).load_state_dict(scheduler_state(lambda: LambdaLR(sgd(), lambda t: 1.0), lr_lambdas=[3])), TypeError, r"^LambdaLR\.load_state_dict: lr_lambdas\[0\] must be None or a dict, got int$"),
    ("lambdas length", lambda: LambdaLR(sgd(), lambda t: 1.0).load_state_dict(scheduler_state(lambda: LambdaLR(sgd(), lambda t: 1.0), lr_lambdas=[None, None])), ValueError, r"^LambdaLR\.load_state_dict: lr_lambdas must be a list of 1 entries \(None, or a callable object's attributes\), got \[None, None\]$"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "error", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_the_message_names_the_argument_the_value_and_what_is_allowed(
    make: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_a_schedule_whose_lr_overflows_stops_at_that_step() -> None:
    scheduler = StepLR(SGD([param()], lr=0.1), step_size=2, gamma=1e200)
    scheduler.step()
    message = (
        r"^StepLR: the schedule gives lr inf to param group 0 at step 4; an lr must be a finite number >= 0 "
        r"\(the schedule's settings: step_size=2, gamma=1e\+200; the group's initial lr: 0\.1\)$"
    )
    scheduler.step()
    scheduler.step()
    with pytest.raises(ValueError, match=message):
        scheduler.step()
    assert scheduler.last_epoch == 3 and scheduler.optimizer.param_groups[0]["lr"] == 0.1 * 1e200, "left at step 3"


def test_a_group_lr_changed_by_hand_is_checked_when_a_schedule_starts() -> None:
    opt = SGD([param()], lr=0.1)
    opt.param_groups[0]["lr"] = NAN
    with pytest.raises(
        ValueError, match=r"^StepLR: param_groups\[0\]\['initial_lr'\] must be a finite number >= 0, got nan$"
    ):
        StepLR(opt, 2)
    assert "initial_lr" not in opt.param_groups[0], "a refused schedule writes nothing into the optimizer"


def test_a_refused_schedule_leaves_the_optimizer_as_it_was() -> None:
    opt = SGD([param()], lr=0.1)
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match=r"lr_lambda\(0\) returned -1"):
        LambdaLR(opt, lambda t: -1)
    assert opt.state_dict() == before, "a refused schedule must not write initial_lr (or anything) into the optimizer"


# ----- all or nothing -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        lambda sd: sd["param_groups"][0].update(lr=NAN),
        lambda sd: sd["state"][1].update(exp_avg=np.full((2, 3), NAN, np.float32)),
        lambda sd: sd["state"][1].update(step=-1),
        lambda sd: sd["state"].update({5: {}}),
        lambda sd: sd["param_groups"][1].update(momentum=0.9),
    ],
    ids=["a group's lr", "the last buffer", "the last step", "an unknown parameter", "a foreign key in the last group"],
)
def test_a_refused_load_leaves_the_optimizer_exactly_as_it_was(change: Callable[[dict[str, Any]], Any]) -> None:
    """Every entry is checked before anything is written: the bad one may be the very last."""

    def make() -> Adam:
        return Adam([{"params": [param()]}, {"params": [param(2, 3)], "lr": 0.01}], lr=0.1, amsgrad=True)

    saved = stepped(make()).state_dict()
    change(saved)
    opt = stepped(stepped(make()))  # a state of its own: two steps, and an lr changed by hand
    opt.param_groups[0]["lr"] = 0.5
    groups, state, before = opt.param_groups, opt.state, copy.deepcopy(opt.state_dict())
    with pytest.raises((ValueError, TypeError)):
        opt.load_state_dict(saved)
    assert opt.param_groups is groups and opt.state is state, "a refused load must not replace the groups or the state"
    after = opt.state_dict()
    half = "a refused load changed the optimizer on the way: check every entry before writing any"
    assert after["param_groups"] == before["param_groups"] and after["state"].keys() == before["state"].keys(), half
    for i, buffers in before["state"].items():
        assert after["state"][i]["step"] == 2, half
        assert all(np.array_equal(after["state"][i][k], v) for k, v in buffers.items()), half


def test_a_refused_schedule_load_leaves_the_schedule_as_it_was() -> None:
    scheduler = warmup()
    scheduler.step()
    before = scheduler.state_dict()
    with pytest.raises(ValueError, match="max_iters must be an int greater than warmup_iters"):
        scheduler.load_state_dict(scheduler_state(warmup, last_epoch=7, max_iters=1))
    assert scheduler.state_dict() == before, "a refused load changed the schedule: check every entry before writing any"


# ----- NumPy scalars are numbers --------------------------------------------------------------------
def run(make: Callable[[list[Tensor]], Optimizer], steps: int = 5) -> np.ndarray:
    p = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), requires_grad=True)
    opt = make([p])
    for k in range(steps):
        p.grad = Tensor(np.cos(p.data * (k + 1)).astype(np.float32))
        opt.step()
    return p.data


@pytest.mark.parametrize(
    ("numpy_kwargs", "cls"),
    [
        (
            {
                "lr": np.float32(0.1),
                "momentum": np.float64(0.9),
                "weight_decay": np.float16(0.01),
                "nesterov": np.True_,
            },
            SGD,
        ),
        ({"lr": np.float32(1e-3), "betas": (np.float32(0.9), np.float32(0.99)), "eps": np.float64(1e-8)}, Adam),
        (
            {
                "lr": np.float64(1e-2),
                "betas": [np.float32(0.8), 0.95],
                "weight_decay": np.int64(0),
                "amsgrad": np.False_,
            },
            AdamW,
        ),
    ],
)
def test_numpy_scalars_give_the_run_of_the_python_numbers_they_stand_for(
    numpy_kwargs: dict[str, Any], cls: type
) -> None:
    """PyTorch reads np.float32(0.1) as the double nearest to that float32; so does this package."""

    def python(v: Any) -> Any:
        return [python(b) for b in v] if isinstance(v, list | tuple) else (v.item() if isinstance(v, np.generic) else v)

    with_numpy = run(lambda ps: cls(ps, **numpy_kwargs))
    with_python = run(lambda ps: cls(ps, **{k: python(v) for k, v in numpy_kwargs.items()}))
    assert np.array_equal(with_numpy, with_python), "NumPy scalars must give the run of the Python numbers they hold"
    group = cls([param()], **numpy_kwargs).param_groups[0]
    assert all(type(v) in (float, bool) for k, v in group.items() if k not in ("params", "betas"))


def test_numpy_scalars_in_clipping_and_schedules() -> None:
    p = with_grad(Tensor(np.array([3.0, 4.0], np.float32)))
    total = clip_grad_norm_([p], np.float32(1.0), norm_type=np.int64(2)).item()
    assert total == pytest.approx(5.0), "the 2-norm of (3, 4) before clipping is 5"
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-6)
    scheduler = WarmupCosineLR(SGD([param()], lr=np.float32(0.5)), np.int64(2), np.int32(10), min_lr=np.float32(0.0))
    warmup = "the lr of step 0 of a 2-step warm-up is lr (np.float32(0.5) as a float) * (0 + 1) / (2 + 1)"
    assert scheduler.get_last_lr() == [float(np.float32(0.5)) / 3], warmup
    step = StepLR(SGD([param()], lr=0.1), step_size=np.int8(1), gamma=np.float64(0.5))
    step.step()
    assert step.get_last_lr() == [0.05], "StepLR(step_size=np.int8(1), gamma=np.float64(0.5)) halves the lr each step"
