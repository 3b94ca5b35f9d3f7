"""Parameter: a Tensor that a Module registers as something to learn."""

from __future__ import annotations

from typing import Any

from numpygpt.autograd import Tensor


class Parameter(Tensor):
    """A leaf Tensor with requires_grad=True that Module attribute assignment registers.

    `module.weight = Parameter(array)` puts it in `module.parameters()`; a plain Tensor
    assigned the same way is just an attribute (PyTorch: torch.nn.Parameter).
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
