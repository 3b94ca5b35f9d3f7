"""Parameter: a Tensor that a Module registers as something to learn."""

from __future__ import annotations

from typing import Any

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import check_bool


class Parameter(Tensor):
    """A leaf Tensor with requires_grad=True that Module attribute assignment registers.

    `module.weight = Parameter(array)` puts it in `module.parameters()`; a plain Tensor
    assigned to a new name is just an attribute, and to a parameter's name a TypeError
    (PyTorch: torch.nn.Parameter).
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data)
        if check_bool("Parameter", "requires_grad", requires_grad) and self.dtype.kind != "f":
            raise TypeError(
                f"Parameter: data must be floating point to require gradients, got dtype {self.dtype}; "
                f"pass requires_grad=False to keep integers"
            )
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
