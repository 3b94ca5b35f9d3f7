"""The layers: Modules that own Parameters and call one functional op each."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import check_bool, check_dtype, check_int, check_real, check_size, is_int

from . import functional as F
from . import init
from .functional._checks import check_tensor, normalized_shape_arg
from .functional.activations import approximate_arg
from .functional.dropout import check_probability
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """y = x W^T + b with W (out_features, in_features), as PyTorch stores it.

    Initialised as PyTorch does: W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: npt.DTypeLike = np.float32
    ) -> None:
        super().__init__()
        in_features = check_int("Linear", "in_features", in_features, min=0)
        out_features = check_int("Linear", "out_features", out_features, min=0)
        bias, dtype = check_bool("Linear", "bias", bias), check_dtype("Linear", "dtype", dtype, kinds="f")
        check_size("Linear", "(out_features, in_features)", (out_features, in_features))
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # bound = 1 / sqrt(in_features)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor(f"Linear({self.in_features}, {self.out_features})", input=x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input of shape {x.shape} should end in "
                f"{self.in_features} features, got {x.shape[-1] if x.ndim else 'a 0-d tensor'}"
            )
        if x.dtype.kind != "f":
            raise TypeError(
                f"Linear({self.in_features}, {self.out_features}): input must be floating point, got dtype {x.dtype}; "
                f"token ids go through an Embedding first"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: npt.DTypeLike = np.float32) -> None:
        super().__init__()
        num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings, min=0)
        embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim, min=0)
        dtype = check_dtype("Embedding", "dtype", dtype, kinds="f")
        check_size("Embedding", "(num_embeddings, embedding_dim)", (num_embeddings, embedding_dim))
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight)

    def forward(self, ids: Tensor | np.ndarray) -> Tensor:
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape`, then scale (weight=1) and shift (bias=0)."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_arg("LayerNorm", normalized_shape)
        self.eps = check_real("LayerNorm", "eps", eps, min=0.0)
        elementwise_affine = check_bool("LayerNorm", "elementwise_affine", elementwise_affine)
        bias, dtype = check_bool("LayerNorm", "bias", bias), check_dtype("LayerNorm", "dtype", dtype, kinds="f")
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Divide by the root mean square over the trailing `normalized_shape`, then scale (weight=1).

    eps=None means the machine epsilon of the input's dtype, as in PyTorch. No bias, no mean
    subtracted: that is all RMSNorm leaves out of LayerNorm (Zhang & Sennrich, 2019).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_arg("RMSNorm", normalized_shape)
        self.eps = None if eps is None else check_real("RMSNorm", "eps", eps, min=0.0)
        elementwise_affine = check_bool("RMSNorm", "elementwise_affine", elementwise_affine)
        dtype = check_dtype("RMSNorm", "dtype", dtype, kinds="f")
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class RotaryEmbedding(Module):
    """Rotary position embeddings for attention heads of size head_dim (Su et al., 2021).

    rope(q, k, offset=0) rotates q (..., T, hs) and k (..., T', hs) by the positions offset,
    offset+1, ... (the rotate-half convention of Hugging Face's LLaMA). The cos and sin tables
    (max_positions, head_dim) are computed once and kept as non-persistent buffers: nothing
    is learned, so nothing goes into the state_dict. A position past the tables extends them
    (to twice their length or to the position, whichever is more), as Hugging Face computes
    the angles of any position.
    """

    cos: np.ndarray  # (positions, head_dim), set by _build
    sin: np.ndarray

    def __init__(
        self, head_dim: int, max_positions: int, base: float = 10000.0, dtype: npt.DTypeLike = np.float32
    ) -> None:
        super().__init__()
        if not is_int(max_positions) or max_positions <= 0:
            raise ValueError(f"RotaryEmbedding: max_positions must be a positive integer, got {max_positions!r}")
        dtype = check_dtype("RotaryEmbedding", "dtype", dtype, kinds="f")
        self.head_dim, self.max_positions, self.base, self.dtype = head_dim, int(max_positions), base, dtype
        self._build(max_positions)

    def _build(self, end: int) -> None:
        cos, sin = F.rotary_tables(self.head_dim, end, self.base, self.dtype)
        self.register_buffer("cos", cos, persistent=False)  # (end, head_dim)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, q: Tensor, k: Tensor, offset: int = 0) -> tuple[Tensor, Tensor]:
        check_tensor("RotaryEmbedding", q=q, k=k)
        if isinstance(offset, (int, np.integer)) and not isinstance(offset, bool):  # else rotary_embedding says why
            end = int(offset) + max((x.shape[-2] for x in (q, k) if x.ndim >= 2), default=0)
            if end > self.cos.shape[0]:
                self._build(max(end, 2 * self.cos.shape[0]))
        return F.rotary_embedding(q, self.cos, self.sin, offset), F.rotary_embedding(k, self.cos, self.sin, offset)

    def extra_repr(self) -> str:
        return f"{self.head_dim}, max_positions={self.max_positions}, base={self.base}"


class Dropout(Module):
    """Zero elements with probability p while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_probability("Dropout", p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GELU(Module):
    """GELU activation, exact ('none') or the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate_arg("GELU", approximate)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class SiLU(Module):
    """x * sigmoid(x) elementwise (PyTorch: nn.SiLU)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        check_tensor("Tanh", input=x)
        return x.tanh()


class Softmax(Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_int("Softmax", "dim", dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
