"""The messages a learner sees when a layer or op is misused: each names the layer or op and
the offending shapes or values, so the mistake can be found without a debugger.

Select with `nox -s stage02 -- -m errors`.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor

pytestmark = pytest.mark.errors


def t(*shape: int) -> Tensor:
    return Tensor(np.zeros(shape, dtype=np.float32))


# ----- Linear -------------------------------------------------------------------------------
@pytest.mark.linear
def test_linear_layer_wrong_feature_size() -> None:
    with pytest.raises(ValueError, match=r"Linear\(4, 3\): input of shape \(2, 5\) should end in 4 features, got 5"):
        nn.Linear(4, 3)(t(2, 5))


@pytest.mark.linear
def test_linear_layer_integer_input() -> None:
    ids = Tensor(np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match=r"Linear\(4, 3\): input must be floating point, got dtype int64.*Embedding"):
        nn.Linear(4, 3)(ids)


@pytest.mark.linear
def test_functional_linear_errors() -> None:
    msg = r"linear: input has 5 features .* \(shape \(2, 5\)\), but the weight \(3, 4\) expects 4"
    with pytest.raises(ValueError, match=msg):
        F.linear(t(2, 5), t(3, 4))
    with pytest.raises(ValueError, match=r"linear: bias shape \(4,\) should be \(3,\)"):
        F.linear(t(2, 4), t(3, 4), t(4))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D .* got shape \(4,\)"):
        F.linear(t(2, 4), t(4))
    with pytest.raises(
        TypeError, match=r"linear: input must be a floating point tensor, got dtype int64 \(shape \(2, 4\)\)"
    ):
        F.linear(Tensor(np.zeros((2, 4), dtype=np.int64)), t(3, 4))
    with pytest.raises(TypeError, match=re.escape("linear: weight must be a Tensor, got an ndarray of shape (3, 4)")):
        F.linear(t(2, 4), np.zeros((3, 4)))


# ----- Embedding ------------------------------------------------------------------------------
@pytest.mark.embedding
@pytest.mark.parametrize("bad", [7, -1])
def test_embedding_index_out_of_range(bad: int) -> None:
    msg = rf"embedding: index {bad} is out of range for an embedding with 7 rows \(valid ids are 0..6\)"
    with pytest.raises(IndexError, match=msg):
        nn.Embedding(7, 3)(np.array([[0, bad, 2]]))


@pytest.mark.embedding
def test_embedding_float_ids() -> None:
    with pytest.raises(TypeError, match=r"embedding: ids must be integers, got dtype float32 \(shape \(2, 3\)\)"):
        nn.Embedding(7, 3)(t(2, 3))


# ----- LayerNorm ------------------------------------------------------------------------------
@pytest.mark.layer_norm
def test_layer_norm_shape_errors() -> None:
    with pytest.raises(
        ValueError, match=r"layer_norm: input of shape \(2, 5\) does not end in normalized_shape \(4,\)"
    ):
        nn.LayerNorm(4)(t(2, 5))
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(5,\), expected \(4,\)"):
        F.layer_norm(t(2, 4), 4, weight=t(5))


# ----- RMSNorm --------------------------------------------------------------------------------
@pytest.mark.rms_norm
def test_rms_norm_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"rms_norm: input of shape \(2, 5\) does not end in normalized_shape \(4,\)"):
        nn.RMSNorm(4)(t(2, 5))
    with pytest.raises(ValueError, match=r"rms_norm: input of shape \(4,\) does not end in normalized_shape \(3, 4\)"):
        F.rms_norm(t(4), (3, 4))
    with pytest.raises(ValueError, match=r"rms_norm: weight has shape \(5,\), expected \(4,\)"):
        F.rms_norm(t(2, 4), 4, weight=t(5))


@pytest.mark.rms_norm
@pytest.mark.parametrize("eps", [-1e-6, float("nan"), float("inf"), "1e-6"])
def test_rms_norm_bad_eps(eps: object) -> None:
    with pytest.raises(ValueError, match=r"rms_norm: eps must be a finite number >= 0 or None, got"):
        F.rms_norm(t(2, 4), 4, eps=eps)  # type: ignore[arg-type]


@pytest.mark.rms_norm
def test_rms_norm_needs_float_tensors() -> None:
    with pytest.raises(TypeError, match=r"rms_norm: input must be a floating point tensor, got dtype int64"):
        F.rms_norm(Tensor(np.zeros((2, 4), dtype=np.int64)), 4)
    with pytest.raises(
        TypeError, match=re.escape("rms_norm: weight must be a Tensor or None, got an ndarray of shape (4,)")
    ):
        F.rms_norm(t(2, 4), 4, weight=np.ones(4))  # type: ignore[arg-type]


# ----- rotary embeddings ----------------------------------------------------------------------
@pytest.mark.rotary
@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"head_dim": 5, "end": 4}, "rotary_tables: head_dim must be a positive even integer, got 5"),
        ({"head_dim": 0, "end": 4}, "rotary_tables: head_dim must be a positive even integer, got 0"),
        ({"head_dim": 4, "end": -1}, "rotary_tables: end must be an integer >= 0, got -1"),
        ({"head_dim": 4, "end": 2.0}, "rotary_tables: end must be an integer >= 0, got 2.0"),
        ({"head_dim": 4, "end": 4, "base": 0.0}, "rotary_tables: base must be a finite number > 0, got 0.0"),
        ({"head_dim": 4, "end": 4, "base": float("nan")}, "rotary_tables: base must be a finite number > 0, got nan"),
    ],
)
def test_rotary_tables_bad_arguments(kw: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        F.rotary_tables(**kw)


@pytest.mark.rotary
def test_rotary_embedding_errors() -> None:
    cos, sin = F.rotary_tables(4, 6)
    with pytest.raises(
        ValueError,
        match=r"rotary_embedding: input must be \(\.\.\., T, hs\) with an even head size hs, got shape \(2, 3, 5\)",
    ):
        F.rotary_embedding(t(2, 3, 5), cos, sin)
    with pytest.raises(ValueError, match=r"with an even head size hs, got shape \(4,\)"):
        F.rotary_embedding(t(4), cos, sin)
    with pytest.raises(
        ValueError,
        match=r"rotary_embedding: cos and sin must be float tables \(positions, 4\) of one shape for input \(2, 3, 4\), got \(6, 4\) float32 and \(5, 4\) float32",
    ):
        F.rotary_embedding(t(2, 3, 4), cos, sin[:5])
    with pytest.raises(ValueError, match=r"got \(6, 8\) float64"):
        F.rotary_embedding(t(2, 3, 4), np.ones((6, 8)), np.ones((6, 8)))
    with pytest.raises(ValueError, match=r"rotary_embedding: positions 4\.\.6 need tables of at least 7 rows, got 6"):
        F.rotary_embedding(t(2, 3, 4), cos, sin, offset=4)
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError, match=rf"rotary_embedding: offset must be an integer >= 0, got {bad!r}"):
            F.rotary_embedding(t(2, 3, 4), cos, sin, offset=bad)  # type: ignore[arg-type]


@pytest.mark.rotary
def test_rotary_module_errors() -> None:
    with pytest.raises(ValueError, match="RotaryEmbedding: max_positions must be a positive integer, got 0"):
        nn.RotaryEmbedding(4, 0)
    with pytest.raises(ValueError, match="rotary_tables: head_dim must be a positive even integer, got 3"):
        nn.RotaryEmbedding(3, 8)
    with pytest.raises(
        TypeError, match=re.escape("RotaryEmbedding: k must be a Tensor, got an ndarray of shape (1, 2, 4)")
    ):
        nn.RotaryEmbedding(4, 8)(t(1, 2, 4), np.zeros((1, 2, 4)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rotary_embedding: offset must be an integer >= 0, got -2"):
        nn.RotaryEmbedding(4, 8)(t(1, 2, 4), t(1, 2, 4), offset=-2)


# ----- activations and softmax ----------------------------------------------------------------
@pytest.mark.activations
def test_gelu_bad_approximate() -> None:
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(t(2), "erf")
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU(approximate="fast")


@pytest.mark.swiglu
def test_swiglu_errors() -> None:
    with pytest.raises(ValueError, match=r"swiglu: gate and up must have the same shape, got \(2, 4\) and \(2, 1\)"):
        F.swiglu(t(2, 4), t(2, 1))
    with pytest.raises(
        TypeError, match=r"swiglu: up must be a floating point tensor, got dtype int64 \(shape \(2, 4\)\)"
    ):
        F.swiglu(t(2, 4), Tensor(np.zeros((2, 4), dtype=np.int64)))
    with pytest.raises(TypeError, match=re.escape("swiglu: gate must be a Tensor, got an ndarray of shape (2, 4)")):
        F.swiglu(np.zeros((2, 4)), t(2, 4))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="silu: input must be a floating point tensor, got dtype int64"):
        F.silu(Tensor(np.zeros(3, dtype=np.int64)))


@pytest.mark.softmax
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_bad_dim(op: str) -> None:
    with pytest.raises(IndexError, match=rf"{op}: dim 2 is out of range for a tensor of shape \(3, 4\)"):
        getattr(F, op)(t(3, 4), 2)


# ----- cross_entropy --------------------------------------------------------------------------
@pytest.mark.cross_entropy
def test_cross_entropy_target_wrong_shape() -> None:
    msg = r"cross_entropy: target shape \(3,\) does not fit input shape \(4, 5\): expected target \(4,\)"
    with pytest.raises(ValueError, match=msg):
        F.cross_entropy(t(4, 5), np.zeros(3, dtype=np.int64))


@pytest.mark.cross_entropy
def test_cross_entropy_unflattened_gpt_logits_get_a_hint() -> None:
    with pytest.raises(
        ValueError, match=r"target shape \(2, 8\) does not fit input shape \(2, 8, 65\).*flatten to \(B\*T, V\)"
    ):
        F.cross_entropy(t(2, 8, 65), np.zeros((2, 8), dtype=np.int64))


@pytest.mark.cross_entropy
@pytest.mark.parametrize("bad", [5, -2])
def test_cross_entropy_target_out_of_range(bad: int) -> None:
    msg = rf"cross_entropy: target {bad} is out of range for 5 classes \(valid 0..4, or ignore_index=-100\)"
    with pytest.raises(IndexError, match=msg):
        F.cross_entropy(t(3, 5), np.array([0, bad, 1]))


@pytest.mark.cross_entropy
def test_cross_entropy_bad_reduction_and_float_targets() -> None:
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(t(3, 5), np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices, got dtype float32"):
        F.cross_entropy(t(3, 5), t(3))


# ----- dropout ----------------------------------------------------------------------------------
@pytest.mark.dropout
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_p(p: float) -> None:
    with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, but got {p}"):
        F.dropout(t(3), p)
    with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, but got {p}"):
        nn.Dropout(p)


# ----- scaled_dot_product_attention -------------------------------------------------------------
SDPA_SHAPE_ERRORS = {
    "head_dim": ((2, 4, 5, 8), (2, 4, 5, 6), (2, 4, 5, 8)),
    "kv_length": ((2, 4, 5, 8), (2, 4, 5, 8), (2, 4, 6, 8)),
    "batch": ((2, 4, 5, 8), (3, 4, 5, 8), (3, 4, 5, 8)),
}


@pytest.mark.attention
@pytest.mark.parametrize("case", sorted(SDPA_SHAPE_ERRORS))
def test_sdpa_shape_mismatch(case: str) -> None:
    q, k, v = SDPA_SHAPE_ERRORS[case]
    expected = (
        rf"scaled_dot_product_attention: shapes do not fit: query \({q[0]}, 4, 5, 8\) \(..., L, E\), "
        rf"key \({k[0]}, 4, 5, {k[3]}\)"
    )
    with pytest.raises(ValueError, match=expected):
        F.scaled_dot_product_attention(t(*q), t(*k), t(*v))


@pytest.mark.attention
@pytest.mark.gqa
def test_sdpa_different_head_counts_hint_at_enable_gqa() -> None:
    with pytest.raises(
        ValueError, match=r"shapes do not fit: .*; to share key/value heads between query heads, pass enable_gqa=True"
    ):
        F.scaled_dot_product_attention(t(2, 4, 5, 8), t(2, 2, 5, 8), t(2, 2, 5, 8))


@pytest.mark.attention
@pytest.mark.gqa
@pytest.mark.parametrize(
    ("k_heads", "v_heads", "msg"),
    [
        (3, 3, "got 4 query, 3 key and 3 value heads"),
        (2, 1, "got 4 query, 2 key and 1 value heads"),
        (8, 8, "got 4 query, 8 key and 8 value heads"),
    ],
)
def test_sdpa_gqa_head_counts(k_heads: int, v_heads: int, msg: str) -> None:
    full = (
        "scaled_dot_product_attention: with enable_gqa=True, key and value need the same number of heads, a divisor of the query's: "
        + msg
    )
    with pytest.raises(ValueError, match=full):
        F.scaled_dot_product_attention(t(2, 4, 5, 8), t(2, k_heads, 5, 8), t(2, v_heads, 5, 8), enable_gqa=True)


@pytest.mark.attention
@pytest.mark.gqa
def test_sdpa_gqa_zero_key_heads_and_a_non_bool_flag() -> None:
    with pytest.raises(ValueError, match="got 4 query, 0 key and 0 value heads"):
        F.scaled_dot_product_attention(t(2, 4, 5, 8), t(2, 0, 5, 8), t(2, 0, 5, 8), enable_gqa=True)
    with pytest.raises(TypeError, match="scaled_dot_product_attention: enable_gqa must be a bool, got 'yes'"):
        F.scaled_dot_product_attention(t(2, 4, 5, 8), t(2, 2, 5, 8), t(2, 2, 5, 8), enable_gqa="yes")  # type: ignore[arg-type]


@pytest.mark.attention
@pytest.mark.gqa
def test_sdpa_gqa_needs_a_head_dimension_and_matching_batches() -> None:
    with pytest.raises(
        ValueError, match=r"enable_gqa=True needs a head dimension, \(\.\.\., heads, L, E\), got query \(5, 8\)"
    ):
        F.scaled_dot_product_attention(t(5, 8), t(5, 8), t(5, 8), enable_gqa=True)
    with pytest.raises(
        ValueError, match=r"shapes do not fit: query \(2, 4, 5, 8\) \(\.\.\., L, E\), key \(3, 2, 5, 8\)"
    ):
        F.scaled_dot_product_attention(t(2, 4, 5, 8), t(3, 2, 5, 8), t(3, 2, 5, 8), enable_gqa=True)
    with pytest.raises(ValueError, match=r"shapes do not fit: .* value \(2, 2, 6, 8\) \(\.\.\., S, Ev\)$"):
        F.scaled_dot_product_attention(t(2, 4, 5, 8), t(2, 2, 5, 8), t(2, 2, 6, 8), enable_gqa=True)


@pytest.mark.attention
def test_sdpa_rank_mismatch() -> None:
    with pytest.raises(
        ValueError, match=r"need the same number \(>= 2\) of dimensions, got \(4, 5, 8\), \(2, 4, 5, 8\)"
    ):
        F.scaled_dot_product_attention(t(4, 5, 8), t(2, 4, 5, 8), t(2, 4, 5, 8))


@pytest.mark.attention
def test_sdpa_mask_does_not_broadcast() -> None:
    with pytest.raises(
        ValueError, match=r"attn_mask of shape \(4, 4\) does not broadcast to the scores \(2, 3, 5, 5\)"
    ):
        F.scaled_dot_product_attention(t(2, 3, 5, 8), t(2, 3, 5, 8), t(2, 3, 5, 8), attn_mask=np.ones((4, 4), bool))
    with pytest.raises(
        ValueError, match=r"attn_mask of shape \(3, 2, 5, 5\) does not broadcast to the scores \(2, 5, 5\)"
    ):
        F.scaled_dot_product_attention(t(2, 5, 8), t(2, 5, 8), t(2, 5, 8), attn_mask=np.ones((3, 2, 5, 5), bool))


@pytest.mark.attention
def test_sdpa_causal_with_mask() -> None:
    with pytest.raises(
        ValueError, match="scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both"
    ):
        F.scaled_dot_product_attention(
            t(1, 2, 4), t(1, 2, 4), t(1, 2, 4), attn_mask=np.ones((2, 2), bool), is_causal=True
        )


@pytest.mark.attention
@pytest.mark.parametrize("p", [-0.5, 1.5, float("nan")])
def test_sdpa_bad_dropout_p(p: float) -> None:
    msg = f"scaled_dot_product_attention: dropout probability has to be between 0 and 1, but got {p}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        F.scaled_dot_product_attention(t(1, 2, 4), t(1, 2, 4), t(1, 2, 4), dropout_p=p)


@pytest.mark.attention
def test_sdpa_dropout_p_1_drops_everything_as_in_pytorch() -> None:
    x = Tensor(np.ones((1, 2, 4), dtype=np.float32), requires_grad=True)
    y = F.scaled_dot_product_attention(x, x, x, dropout_p=1.0)
    np.testing.assert_array_equal(y.data, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0)
