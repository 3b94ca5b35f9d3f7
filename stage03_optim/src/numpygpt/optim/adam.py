"""Adam and AdamW: per-coordinate step sizes from running moments of the gradient.

AdamW is Adam with the weight decay taken out of the gradient and applied to the parameter
directly ("decoupled"), as PyTorch implements it: one class with a switch, AdamW the subclass
that turns it on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from numpygpt.nn.functional._chunks import CHUNK, chunks

from ._checks import check_bool, check_nonnegative, check_real, show
from .optimizer import Optimizer, ParamsT, StateDict


class Adam(Optimizer):
    r"""Adam (PyTorch: torch.optim.Adam).

    For each parameter θ with gradient g, at step t = 1, 2, ... (m_0 = v_0 = 0):

        g ← g + λ θ                        L2 penalty (weight_decay λ), if not decoupled
        θ ← θ − lr λ θ                     decoupled weight decay (AdamW) instead
        m_t = β₁ m_{t-1} + (1 − β₁) g      first moment: a running mean of g
        v_t = β₂ v_{t-1} + (1 − β₂) g²     second moment: a running mean of g² (elementwise)
        m̂ = m_t / (1 − β₁ᵗ)               bias correction: m and v start at 0, so early
        v̂ = v_t / (1 − β₂ᵗ)               averages are too small by exactly these factors
        θ ← θ − lr m̂ / (√v̂ + ε)

    With amsgrad, √v̂ uses the largest v_t seen so far. As in PyTorch, ε is added to √v̂
    (not to √v_t), so the update is computed as
        θ ← θ − (lr / (1 − β₁ᵗ)) · m_t / (√v_t / √(1 − β₂ᵗ) + ε).

    Args:
        params: parameters or parameter groups to optimize (see Optimizer).
        lr: learning rate (default: 1e-3).
        betas: (β₁, β₂), the decay rates of the two moments, each in [0, 1) (default: (0.9, 0.999)).
        eps: ε, added to the denominator for numerical stability (default: 1e-8).
        weight_decay: λ (default: 0).
        amsgrad: use the AMSGrad variant (default: False).
        decoupled_weight_decay: apply λ to θ directly, making this AdamW (default: False).

    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Reddi, Kale, Kumar, "On the Convergence of Adam and Beyond", ICLR 2018 (AMSGrad).

    State per parameter: "step" (an int), "exp_avg" (m), "exp_avg_sq" (v) and, with amsgrad,
    "max_exp_avg_sq", each of the parameter's shape and dtype.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        """lr, eps and weight_decay >= 0 and betas a pair in [0, 1) (PyTorch's checks and words),
        every number finite; amsgrad and decoupled_weight_decay bools."""
        super()._check_group(group)
        where = type(self).__name__
        group["eps"] = check_nonnegative(group["eps"], "eps", invalid="Invalid epsilon value")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            error = ValueError if isinstance(betas, (tuple, list)) else TypeError
            raise error(f"{where}: betas must be a pair (beta1, beta2) of numbers in [0, 1), got {show(betas)}")
        group["betas"] = tuple(
            check_real(
                b,
                f"betas[{k}]",
                "a number in [0, 1)",
                lambda x: 0 <= x < 1,
                invalid=f"Invalid beta parameter at index {k}",
            )
            for k, b in enumerate(betas)
        )
        group["weight_decay"] = check_nonnegative(
            group["weight_decay"], "weight_decay", invalid="Invalid weight_decay value"
        )
        group["amsgrad"] = check_bool(group["amsgrad"], "amsgrad", where=where)
        group["decoupled_weight_decay"] = check_bool(
            group["decoupled_weight_decay"], "decoupled_weight_decay", where=where
        )

    def _state_keys(self, group: dict[str, Any]) -> tuple[set[str], set[str]]:
        """A parameter's state: the step count and both moments (AMSGrad: and the largest v)."""
        required = {"step", "exp_avg", "exp_avg_sq"}
        return (required | {"max_exp_avg_sq"}, set()) if group["amsgrad"] else (required, {"max_exp_avg_sq"})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter whose grad is not None; returns closure()'s loss."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            # Python floats: NumPy then computes in the parameter's dtype (float32 stays float32).
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            amsgrad = bool(group["amsgrad"])
            decoupled = bool(group["decoupled_weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                t = state["step"]
                # NOTE: the update is a dozen elementwise passes; over cache-sized chunks of the
                # flattened arrays (see numpygpt/nn/functional/_chunks.py) only the first pass of
                # each chunk reads θ, g, m and v from memory. At the GPT-2 124M shape, where
                # these are 4 x 500 MB, that took AdamW's step from 556 to 362 ms (one thread).
                moments = (state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"] if amsgrad else None)
                for theta, grad, m, v, v_max in _chunked(p.data, p.grad.data, *moments):
                    # exercise 3.2: Adam's weight decay: added to the gradient (Adam) or applied to the parameter (AdamW)
                    if weight_decay != 0:
                        if decoupled:
                            theta *= 1 - lr * weight_decay  # θ ← θ − lr λ θ
                        else:
                            grad = grad + weight_decay * theta  # g ← g + λθ (a new array)
                    # end exercise 3.2

                    # exercise 3.3: the Adam update: both moments, their bias correction and the step (AMSGrad too)
                    # One scratch array serves every elementwise temporary of this chunk.
                    tmp = np.subtract(grad, m)
                    tmp *= 1 - beta1
                    m += tmp  # m_t = m + (1 − β₁)(g − m) = β₁ m + (1 − β₁) g
                    np.multiply(grad, grad, out=tmp)
                    tmp *= 1 - beta2
                    v *= beta2
                    v += tmp  # v_t = β₂ v + (1 − β₂) g²

                    bias_correction1 = 1 - beta1**t
                    bias_correction2 = 1 - beta2**t
                    step_size = lr / bias_correction1
                    bias_correction2_sqrt = bias_correction2**0.5

                    if v_max is not None:  # AMSGrad: the largest v so far
                        np.maximum(v_max, v, out=v_max)
                        np.sqrt(v_max, out=tmp)
                    else:
                        np.sqrt(v, out=tmp)
                    tmp /= bias_correction2_sqrt
                    tmp += eps  # √v̂ + ε
                    np.divide(m, tmp, out=tmp)
                    tmp *= step_size
                    theta -= tmp  # θ ← θ − lr m̂ / (√v̂ + ε)
                    # end exercise 3.3
        return loss


def _chunked(
    theta: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, v_max: np.ndarray | None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    """θ, g, m, v and AMSGrad's largest v (or None) of one parameter, as matching chunks of
    their flattened arrays (views: updating a chunk in place updates the parameter)."""
    arrays = [a for a in (theta, grad, m, v, v_max) if a is not None]
    if theta.size <= CHUNK or not all(a.flags.c_contiguous and a.shape == theta.shape for a in arrays):
        yield theta, grad, m, v, v_max  # one chunk, or a strided view that cannot be flattened without a copy
        return
    flat = [a.reshape(-1) for a in (theta, grad, m, v)]
    flat_max = v_max.reshape(-1) if v_max is not None else None
    for c in chunks(theta.size):
        yield flat[0][c], flat[1][c], flat[2][c], flat[3][c], flat_max[c] if flat_max is not None else None


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (PyTorch: torch.optim.AdamW).

    The only change from Adam: instead of adding λθ to the gradient (where Adam's division by
    √v̂ rescales it differently for every coordinate, so coordinates with large gradients are
    hardly decayed at all), every step first shrinks the parameter directly,

        θ ← θ − lr λ θ,

    then takes the plain Adam step from the unmodified gradient. This is the optimizer GPTs
    are trained with, with λ applied to matrices only (see `configure_weight_decay`).

    Args:
        params: parameters or parameter groups to optimize (see Optimizer).
        lr: learning rate (default: 1e-3).
        betas: (β₁, β₂), each in [0, 1) (default: (0.9, 0.999)).
        eps: ε (default: 1e-8).
        weight_decay: λ, the decoupled decay coefficient (default: 1e-2).
        amsgrad: use the AMSGrad variant (default: False).

    Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: StateDict) -> None:
        """As Optimizer.load_state_dict; an AdamW stays decoupled whatever the checkpoint says."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
