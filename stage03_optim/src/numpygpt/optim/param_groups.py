"""The GPT weight-decay recipe: decay the matrices, not the biases and LayerNorm gains.

Weight decay pulls every decayed parameter toward 0. For a weight matrix that is a useful
prior (small weights, smoother functions). For a bias or a LayerNorm gain it is not: a gain
is meant to sit near 1 and a bias wherever the data needs it, and these vectors are too few
to overfit with. GPT-2, minGPT and nanoGPT therefore build two param groups, split by shape:

    ndim >= 2   weight matrices, embeddings           weight_decay = λ
    ndim <  2   biases, LayerNorm weight and bias     weight_decay = 0

    optimizer = AdamW(configure_weight_decay(model.named_parameters(), 0.1), lr=6e-4)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from numpygpt.autograd import Tensor

from ._checks import check_iterable, check_nonnegative, show, typename

NamedParams = Iterable[tuple[str, Tensor]] | Mapping[str, Tensor]


def configure_weight_decay(named_parameters: NamedParams, weight_decay: float) -> list[dict[str, Any]]:
    """Split parameters into a decayed group (ndim >= 2) and an undecayed one (ndim < 2).

    Args:
        named_parameters: (name, parameter) pairs, e.g. `model.named_parameters()`, or a dict.
            Parameters with requires_grad False (frozen) are left out.
        weight_decay: λ for the matrices.

    Returns:
        [{"params": [matrices], "param_names": [...], "weight_decay": weight_decay},
         {"params": [vectors],  "param_names": [...], "weight_decay": 0.0}]
        in the parameters' order, both groups always present (possibly empty), ready for any
        optimizer: its other hyper-parameters (lr, betas) come from the optimizer's defaults.
    """
    weight_decay = check_nonnegative(weight_decay, "weight_decay", invalid="Invalid weight_decay value")
    pairs = "(name, parameter) pairs such as model.named_parameters(), or a dict of them"
    if isinstance(named_parameters, Mapping):
        items = list(named_parameters.items())
    elif isinstance(named_parameters, Tensor):
        raise TypeError(f"configure_weight_decay: named_parameters must be {pairs}, got a Tensor")
    else:
        items = check_iterable(named_parameters, "named_parameters", pairs, where="configure_weight_decay")
    decay: list[Tensor] = []
    no_decay: list[Tensor] = []
    decay_names: list[str] = []
    no_decay_names: list[str] = []
    for item in items:
        if not (
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], Tensor)
        ):
            raise TypeError(
                f"configure_weight_decay: named_parameters must be {pairs}, got an item of type {typename(item)}: "
                f"{show(item)}"
            )
        name, p = item
        if not p.requires_grad:
            continue
        if p.ndim >= 2:
            decay.append(p)
            decay_names.append(name)
        else:
            no_decay.append(p)
            no_decay_names.append(name)
    return [
        {"params": decay, "param_names": decay_names, "weight_decay": weight_decay},
        {"params": no_decay, "param_names": no_decay_names, "weight_decay": 0.0},
    ]
