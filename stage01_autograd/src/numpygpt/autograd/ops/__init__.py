"""Every differentiable operation of stage 01, one Function subclass each."""

from .elementwise import (
    abs,
    add,
    cast,
    compare,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .matmul import matmul
from .reduce import amax, mean, sum, var
from .shape import (
    broadcast_to,
    cat,
    concat,
    expand,
    getitem,
    permute,
    reshape,
    stack,
    sum_to,
    transpose,
)

__all__ = [
    "abs", "add", "cast", "compare", "div", "exp", "log", "maximum", "minimum", "mul", "neg",
    "pow", "relu", "sigmoid", "sqrt", "sub", "tanh", "where", "matmul", "amax", "mean", "sum",
    "var", "broadcast_to", "cat", "concat", "expand", "getitem", "permute", "reshape", "stack",
    "sum_to", "transpose",
]
