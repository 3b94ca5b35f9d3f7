"""numpygpt.nn.functional — the layer-level ops, each one fused Function (import as F).

Every op here computes its forward in NumPy and its backward from a hand-derived formula
summarised in the Function's docstring. `composed` holds the same computations built from
stage01's primitive Tensor ops: slower, but every step visible, and the reference the tests
compare the fused ops against.
"""

from .activations import gelu, relu, silu, swiglu
from .attention import scaled_dot_product_attention
from .cross_entropy import cross_entropy
from .dropout import dropout
from .embedding import embedding
from .layer_norm import layer_norm
from .linear import linear
from .rms_norm import rms_norm
from .rotary import rotary_embedding, rotary_tables
from .softmax import log_softmax, softmax

__all__ = [
    "gelu",
    "relu",
    "silu",
    "swiglu",
    "scaled_dot_product_attention",
    "cross_entropy",
    "dropout",
    "embedding",
    "layer_norm",
    "linear",
    "rms_norm",
    "rotary_embedding",
    "rotary_tables",
    "log_softmax",
    "softmax",
]
