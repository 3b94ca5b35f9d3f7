"""SGD: stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._checks import check_bool, check_nonnegative, check_real
from .optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (PyTorch: torch.optim.SGD).

    For each parameter θ with gradient g at step t (μ momentum, τ dampening, λ weight decay):

        g ← g + λ θ                            weight decay as an L2 penalty: d/dθ (λ/2)‖θ‖²
        b_t ← g                    at t = 1    the buffer starts at the first gradient
        b_t ← μ b_{t-1} + (1 − τ) g  after
        g ← g + μ b_t              Nesterov    (look ahead along the buffer)
        g ← b_t                    otherwise
        θ ← θ − lr g

    NOTE: this is PyTorch's form, which differs from Sutskever et al. (v ← μ v + lr g;
    θ ← θ − v) in where lr enters, and which starts the buffer at the gradient instead of at
    zeros: with momentum 0.9 the first step is a full lr·g step, not 0.1·lr·g.

    Args:
        params: parameters or parameter groups to optimize (see Optimizer).
        lr: learning rate (default: 1e-3).
        momentum: momentum factor μ (default: 0).
        dampening: dampening τ of the gradient added to the buffer (default: 0).
        weight_decay: L2 penalty λ (default: 0).
        nesterov: use Nesterov momentum; needs momentum > 0 and dampening 0 (default: False).

    Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and momentum in deep
    learning", ICML 2013.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        """lr, momentum and weight_decay >= 0 (PyTorch's checks and words), dampening in [0, 1],
        nesterov a bool that needs momentum > 0 and dampening 0; every number finite."""
        super()._check_group(group)
        group["momentum"] = check_nonnegative(group["momentum"], "momentum", invalid="Invalid momentum value")
        group["weight_decay"] = check_nonnegative(
            group["weight_decay"], "weight_decay", invalid="Invalid weight_decay value"
        )
        group["dampening"] = check_real(
            group["dampening"],
            "dampening",
            "a number in [0, 1]",
            lambda x: 0 <= x <= 1,
            invalid="Invalid dampening value",
        )
        group["nesterov"] = check_bool(group["nesterov"], "nesterov", where="SGD")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening "
                f"(nesterov=True needs momentum > 0 and dampening 0, got momentum={group['momentum']}, "
                f"dampening={group['dampening']})"
            )

    def _state_keys(self, group: dict[str, Any]) -> tuple[set[str], set[str]]:
        """A parameter's state: its momentum buffer, once it has one."""
        return set(), {"momentum_buffer"}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter whose grad is not None; returns closure()'s loss."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            # Python floats: NumPy then computes in the parameter's dtype (float32 stays float32).
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            nesterov = bool(group["nesterov"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                # exercise 3.1: SGD.step for one parameter: the update, with weight decay, momentum, dampening and Nesterov
                d_p = p.grad.data  # never modified: a new array wherever it changes
                if weight_decay != 0:
                    d_p = d_p + weight_decay * p.data  # g + λθ
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = d_p.copy()  # b_1 = g
                    else:
                        buf *= momentum  # b_t = μ b_{t-1} + (1 − τ) g
                        buf += d_p if dampening == 0 else (1 - dampening) * d_p
                    d_p = d_p + momentum * buf if nesterov else buf
                p.data -= lr * d_p  # θ ← θ − lr g, in place: p.data stays the same array
                # end exercise 3.1
        return loss
