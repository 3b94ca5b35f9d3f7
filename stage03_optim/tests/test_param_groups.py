"""configure_weight_decay: the GPT recipe, decay on matrices, none on biases and LayerNorm gains."""

from __future__ import annotations

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, AdamW, configure_weight_decay

pytestmark = pytest.mark.param_groups


def gpt_like_named_parameters() -> list[tuple[str, Tensor]]:
    """The parameter shapes of one GPT block plus embeddings (C = 4, vocab 10, block 8)."""
    shapes = {
        "wte.weight": (10, 4),
        "wpe.weight": (8, 4),
        "h.0.ln_1.weight": (4,),
        "h.0.ln_1.bias": (4,),
        "h.0.attn.c_attn.weight": (4, 12),
        "h.0.attn.c_attn.bias": (12,),
        "h.0.mlp.c_fc.weight": (4, 16),
        "h.0.mlp.c_fc.bias": (16,),
        "ln_f.weight": (4,),
    }
    return [(n, Tensor(np.ones(s, np.float32), requires_grad=True)) for n, s in shapes.items()]


def test_matrices_decay_vectors_do_not() -> None:
    named = gpt_like_named_parameters()
    decay, no_decay = configure_weight_decay(named, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    matrices = ["wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.0.mlp.c_fc.weight"]
    vectors = [n for n in decay["param_names"] if n not in matrices]
    assert not vectors, f"{vectors} decayed: a bias or LayerNorm vector (1-D) is not decayed, only matrices are"
    assert decay["param_names"] == matrices
    assert no_decay["param_names"] == [
        "h.0.ln_1.weight",
        "h.0.ln_1.bias",
        "h.0.attn.c_attn.bias",
        "h.0.mlp.c_fc.bias",
        "ln_f.weight",
    ]
    by_name = dict(named)
    for group in (decay, no_decay):
        assert all(p is by_name[n] for n, p in zip(group["param_names"], group["params"], strict=True))


def test_adamw_shrinks_only_the_matrices() -> None:
    named = gpt_like_named_parameters()
    opt = AdamW(configure_weight_decay(named, 0.1), lr=0.5)
    for _, p in named:
        p.grad = Tensor(np.zeros_like(p.data))  # no gradient signal: only the decay acts
    opt.step()
    shrunk = np.float32(1 - 0.5 * 0.1)
    for name, p in named:
        expected = shrunk if p.ndim >= 2 else np.float32(1.0)
        assert np.all(p.data == expected), f"{name} ({p.ndim}-D) should be {expected}, got {p.data.flat[0]}: " + (
            "a weight matrix or embedding (2-D or more) is decayed"
            if p.ndim >= 2
            else "a bias or LayerNorm vector (1-D) is not decayed: it should sit where the data puts it"
        )
    assert opt.state_dict()["param_groups"][0]["param_names"][0] == "wte.weight"


def test_a_dict_works_frozen_parameters_are_left_out_and_groups_are_reusable() -> None:
    named = dict(gpt_like_named_parameters())
    named["wpe.weight"].requires_grad = False
    groups = configure_weight_decay(named, 0.2)
    assert "wpe.weight" not in groups[0]["param_names"]
    # One group list for two optimizers: each fills its own defaults into its own copy.
    sgd, adamw = SGD(groups, lr=0.1), AdamW(groups, lr=0.01)
    assert "betas" not in sgd.param_groups[0] and adamw.param_groups[0]["lr"] == 0.01
    assert set(groups[0]) == {"params", "param_names", "weight_decay"}


def test_both_groups_exist_even_when_one_is_empty() -> None:
    w = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    groups = configure_weight_decay([("w", w)], 0.1)
    assert [len(g["params"]) for g in groups] == [1, 0]
    assert len(AdamW(groups).param_groups) == 2


@pytest.mark.errors
def test_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"^Invalid weight_decay value: -0\.1 \(weight_decay must be a finite number >= 0\)$"
    ):
        configure_weight_decay(gpt_like_named_parameters(), -0.1)
    w = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    message = r"named_parameters must be \(name, parameter\) pairs such as model\.named_parameters\(\), or a dict of them, got an item of type numpygpt\.autograd\.tensor\.Tensor"
    with pytest.raises(TypeError, match=message):
        configure_weight_decay([w], 0.1)
