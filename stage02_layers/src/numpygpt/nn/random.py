"""The seedable random state: one generator that initialisation and dropout draw from.

    numpygpt.nn.manual_seed(1337)   # every later init and dropout mask is reproducible

Functions that draw random numbers also accept an explicit `generator=` (an
np.random.Generator), as PyTorch's do; without one they use this default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from numpygpt.autograd.checks import check_int, show

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (PyTorch: torch.manual_seed); returns it.

    As in PyTorch, a seed is an int in [-2**63, 2**64 - 1], and a negative one is remapped to
    0xffff_ffff_ffff_ffff + seed.
    """
    seed = check_int("manual_seed", "seed", seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(
            f"manual_seed: seed must be within the inclusive range [-0x8000_0000_0000_0000, "
            f"0xffff_ffff_ffff_ffff], got {seed}"
        )
    if seed < 0:
        seed += 0xFFFF_FFFF_FFFF_FFFF
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
    """Restore a state from get_rng_state(): later draws repeat exactly.

    The state is tried on a scratch generator first, so a malformed one changes nothing.
    """
    scratch = type(_default.bit_generator)()
    try:
        scratch.state = state
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(
            f"set_rng_state: state must be a {type(scratch).__name__} state from get_rng_state(), "
            f"got {show(state)} ({type(e).__name__}: {e})"
        ) from None
    _default.bit_generator.state = scratch.state


def resolve(generator: np.random.Generator | None) -> np.random.Generator:
    return _default if generator is None else generator


def check_generator(op: str, generator: object) -> None:
    """A `generator=` argument: an np.random.Generator or None (the default one)."""
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{op}: generator must be a numpy.random.Generator or None, got {show(generator)}")
