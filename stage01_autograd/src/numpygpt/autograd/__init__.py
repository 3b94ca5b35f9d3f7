"""numpygpt.autograd — stage 01: reverse-mode automatic differentiation in NumPy.

    from numpygpt.autograd import Tensor, no_grad, gradcheck

Scalar is the micrograd-sized warm-up (one number per node); Tensor is the real engine
that every later stage builds on (one ndarray per node, ops as Function subclasses).
"""

# tensor first: it pulls in function, engine and ops, which all need the Tensor class.
from .tensor import DEFAULT_DTYPE, Tensor, ones, ones_like, tensor, zeros, zeros_like  # isort: skip
from .function import Function, once_differentiable
from .gradcheck import GradcheckError, gradcheck, numerical_vjp
from .graph import to_dot, to_mermaid
from .mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import (
    abs,
    amax,
    broadcast_to,
    cat,
    concat,
    exp,
    expand,
    log,
    matmul,
    maximum,
    mean,
    minimum,
    permute,
    relu,
    reshape,
    sigmoid,
    sqrt,
    stack,
    sum,
    sum_to,
    tanh,
    transpose,
    var,
    where,
)
from .scalar import Scalar

__all__ = [
    "Function",
    "once_differentiable",
    "GradcheckError",
    "gradcheck",
    "numerical_vjp",
    "to_dot",
    "to_mermaid",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "abs",
    "amax",
    "broadcast_to",
    "cat",
    "concat",
    "exp",
    "expand",
    "log",
    "matmul",
    "maximum",
    "mean",
    "minimum",
    "permute",
    "relu",
    "reshape",
    "sigmoid",
    "sqrt",
    "stack",
    "sum",
    "sum_to",
    "tanh",
    "transpose",
    "var",
    "where",
    "Scalar",
    "DEFAULT_DTYPE",
    "Tensor",
    "ones",
    "ones_like",
    "tensor",
    "zeros",
    "zeros_like",
]
