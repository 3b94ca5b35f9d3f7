"""The seedable random state: one generator that initialisation and dropout draw from.

    numpygpt.nn.manual_seed(1337)   # every later init and dropout mask is reproducible

Functions that draw random numbers also accept an explicit `generator=` (an
np.random.Generator), as PyTorch's do; without one they use this default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (PyTorch: torch.manual_seed); returns it."""
    # Reseed in place, so a generator someone already holds is reseeded too.
    _default.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return _default


def default_generator() -> np.random.Generator:
    """The generator used when no `generator=` is given."""
    return _default


def get_rng_state() -> Mapping[str, Any]:
    """The default generator's state, to store in a checkpoint."""
    return _default.bit_generator.state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore a state from get_rng_state(): later draws repeat exactly."""
    _default.bit_generator.state = state


def resolve(generator: np.random.Generator | None) -> np.random.Generator:
    return _default if generator is None else generator
