"""Agreement with PyTorch, without PyTorch: compare against committed fixtures.

scripts/make_fixtures.py ran each op and layer in PyTorch 2.13 (CPU, float32) and stored its
inputs, parameters, a random upstream gradient gy, the output and every gradient in
fixtures/parity.npz. Here numpygpt runs the same computation in float32 and must agree to
float32 precision. Regenerate the file with `nox -s fixtures`, or by hand with a Python that
has torch: `python stage02_layers/scripts/make_fixtures.py`.

Select with `nox -s stage02 -- -m parity`, one case with `-k "parity and sdpa_causal"`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor

pytestmark = pytest.mark.parity

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "parity.npz")
CASES = sorted({k.split("/")[0] for k in FIXTURES.files})
# float32 carries ~7 significant digits; sums over a few hundred terms lose a few of them.
RTOL, ATOL = 1e-4, 1e-5


def group(case: str, name: str) -> dict[str, np.ndarray]:
    """The arrays stored under `<case>/<name>/...`, by their last key part, in stored order."""
    pre = f"{case}/{name}/"
    return {k[len(pre) :]: FIXTURES[k] for k in FIXTURES.files if k.startswith(pre)}


def kwargs(case: str) -> dict[str, Any]:
    """Keyword arguments, back as Python values (a stored tuple comes back as an array)."""
    return {k: (tuple(v.tolist()) if v.ndim else v.item()) for k, v in group(case, "kw").items()}


def op_of(case: str) -> str:
    return str(FIXTURES[f"{case}/op"])


# How numpygpt calls each functional op: (tensors needing grad, constant arrays, kwargs) -> output.
OPS: dict[str, Callable[[dict[str, Tensor], dict[str, np.ndarray], dict[str, Any]], Tensor]] = {
    "linear": lambda a, c, kw: F.linear(a["input"], a["weight"], a.get("bias")),
    "embedding": lambda a, c, kw: F.embedding(c["input"], a["weight"]),
    "layer_norm": lambda a, c, kw: F.layer_norm(
        a["input"], kw["normalized_shape"], a.get("weight"), a.get("bias"), eps=kw.get("eps", 1e-5)
    ),
    "rms_norm": lambda a, c, kw: F.rms_norm(a["input"], kw["normalized_shape"], a.get("weight"), eps=kw.get("eps")),
    "rotary": lambda a, c, kw: F.rotary_embedding(
        a["input"],
        *F.rotary_tables(a["input"].shape[-1], kw["offset"] + a["input"].shape[-2], kw["base"]),
        kw["offset"],
    ),
    "gelu": lambda a, c, kw: F.gelu(a["input"], kw["approximate"]),
    "relu": lambda a, c, kw: F.relu(a["input"]),
    "silu": lambda a, c, kw: F.silu(a["input"]),
    "swiglu": lambda a, c, kw: F.swiglu(a["gate"], a["up"]),
    "softmax": lambda a, c, kw: F.softmax(a["input"], kw["dim"]),
    "log_softmax": lambda a, c, kw: F.log_softmax(a["input"], kw["dim"]),
    "cross_entropy": lambda a, c, kw: F.cross_entropy(a["input"], c["target"], **kw),
    "sdpa": lambda a, c, kw: F.scaled_dot_product_attention(
        a["query"], a["key"], a["value"], attn_mask=c.get("attn_mask"), **kw
    ),
}
# The marker of each op and layer, so `-m "parity and attention"` selects its cases.
MARKS = {
    "linear": "linear",
    "embedding": "embedding",
    "layer_norm": "layer_norm",
    "rms_norm": "rms_norm",
    "rotary": "rotary",
    "gelu": "activations",
    "relu": "activations",
    "silu": "activations",
    "swiglu": "swiglu",
    "softmax": "softmax",
    "log_softmax": "softmax",
    "cross_entropy": "cross_entropy",
    "sdpa": "attention",
    "layer:Linear": "linear",
    "layer:Embedding": "embedding",
    "layer:LayerNorm": "layer_norm",
    "layer:RMSNorm": "rms_norm",
    "layer:GELU": "activations",
    "layer:ReLU": "activations",
    "layer:SiLU": "activations",
    "layer:Tanh": "activations",
    "layer:Softmax": "softmax",
    "layer:Dropout": "dropout",
}


def marked(cases: list[str]) -> list:
    return [pytest.param(c, marks=getattr(pytest.mark, MARKS[op_of(c)]), id=c) for c in cases]


OP_CASES = [c for c in CASES if op_of(c) in OPS]
LAYER_CASES = [c for c in CASES if op_of(c).startswith("layer:") and c != "model"]


def check(case: str, out: Tensor, grads: dict[str, Tensor | None]) -> None:
    """out against torch's output, each tensor's .grad against torch's gradient; all float32."""
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, FIXTURES[f"{case}/out"], rtol=RTOL, atol=ATOL, err_msg=f"{case}: output")
    expected = group(case, "grad")
    assert sorted(grads) == sorted(expected)
    for name, t in grads.items():
        assert t is not None and t.grad is not None, f"{case}: {name} received no gradient"
        assert t.grad.dtype == np.float32
        np.testing.assert_allclose(
            t.grad.data, expected[name], rtol=RTOL, atol=ATOL, err_msg=f"{case}: gradient of {name}"
        )


def test_fixtures_cover_every_op_and_layer() -> None:
    ops = {op_of(c) for c in CASES}
    assert set(OPS) | {"dropout"} <= ops
    layers = {"Linear", "Embedding", "LayerNorm", "RMSNorm", "GELU", "ReLU", "SiLU", "Tanh", "Softmax", "Dropout"}
    assert {f"layer:{n}" for n in layers} <= ops
    for c in CASES:
        for k in group(c, "in").values():
            assert k.dtype == np.float32, f"{c}: fixtures are float32"


@pytest.mark.parametrize("case", marked(OP_CASES))
def test_functional_matches_pytorch(case: str) -> None:
    inputs = {k: Tensor(v.copy(), requires_grad=True) for k, v in group(case, "in").items()}
    out = OPS[op_of(case)](inputs, group(case, "const"), kwargs(case))
    out.backward(Tensor(FIXTURES[f"{case}/gy"]))
    check(case, out, inputs)


@pytest.mark.parametrize("case", marked(LAYER_CASES))
def test_layer_matches_pytorch(case: str) -> None:
    """Build the layer with the same constructor arguments, load torch's parameters by their
    state_dict names (strict: every name must match), then compare output and gradients."""
    layer: nn.Module = getattr(nn, op_of(case).removeprefix("layer:"))(**kwargs(case))
    layer.load_state_dict(group(case, "param"))
    if op_of(case) == "layer:Dropout":
        layer.eval()
    consts = group(case, "const")
    x = consts["x"] if "x" in consts else Tensor(group(case, "in")["x"].copy(), requires_grad=True)
    out = layer(x)
    out.backward(Tensor(FIXTURES[f"{case}/gy"]))
    grads: dict[str, Tensor | None] = dict(layer.named_parameters())
    if isinstance(x, Tensor):
        grads["x"] = x
    check(case, out, grads)


def test_nested_model_matches_pytorch() -> None:
    """The same nested Sequential as in make_fixtures.py: PyTorch's parameter names, in
    PyTorch's order, load into it, and it computes what PyTorch computed."""
    model = nn.Sequential(
        nn.Linear(4, 8), nn.GELU(approximate="tanh"), nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 3)), nn.Tanh()
    )
    assert [n for n, _ in model.named_parameters()] == FIXTURES["model/names"].tolist()
    model.load_state_dict(group("model", "param"))
    x = Tensor(group("model", "in")["x"].copy(), requires_grad=True)
    out = model(x)
    out.backward(Tensor(FIXTURES["model/gy"]))
    check("model", out, {**dict(model.named_parameters()), "x": x})


@pytest.mark.rotary
def test_rotary_tables_match_hugging_face() -> None:
    """The cos and sin tables of LlamaRotaryEmbedding (default rope, base 10000) for 48 positions."""
    kw = kwargs("rotary_tables")
    cos, sin = F.rotary_tables(kw["head_dim"], kw["end"], kw["base"])
    assert cos.dtype == sin.dtype == np.float32
    expected = group("rotary_tables", "out")
    np.testing.assert_allclose(cos, expected["cos"], rtol=RTOL, atol=ATOL, err_msg="rotary_tables: cos")
    np.testing.assert_allclose(sin, expected["sin"], rtol=RTOL, atol=ATOL, err_msg="rotary_tables: sin")


@pytest.mark.dropout
def test_dropout_scales_like_pytorch() -> None:
    """Torch's mask comes from torch's generator and cannot be reproduced, so compare what does
    not depend on it: kept elements are scaled by the same 1/(1-p), dropped ones are 0, the
    gradient flows through the kept ones only with the same scale, and about p are dropped."""
    x, y_t, gx_t, gy = (FIXTURES[f"dropout/{k}"] for k in ("in/input", "out", "grad/input", "gy"))
    p = kwargs("dropout")["p"]
    xt = Tensor(x.copy(), requires_grad=True)
    y = F.dropout(xt, p, generator=np.random.default_rng(0))
    y.backward(Tensor(gy))
    for name, out, grad in (("torch", y_t, gx_t), ("numpygpt", y.data, xt.grad.data)):
        kept = out != 0
        assert abs(kept.mean() - (1 - p)) < 0.15, f"{name}: kept {kept.mean():.2f}, expected about {1 - p}"
        np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(grad, np.where(kept, gy / (1 - p), 0), rtol=1e-6, err_msg=name)
    assert y.dtype == np.float32 and xt.grad.dtype == np.float32
