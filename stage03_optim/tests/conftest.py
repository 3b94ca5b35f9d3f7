"""Shared fixtures of stage03's tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from numpygpt.autograd import Tensor


@pytest.fixture
def steps_by_hand() -> Callable[..., np.ndarray]:
    """steps(opt_class, kwargs, theta0, grads): θ after each step of opt_class([p], **kwargs) fed `grads`
    from `theta0`, in float64, failing if a step changes p.grad or replaces p.data's array."""

    def steps(opt_class: type, kwargs: dict, theta0: Sequence[float], grads: Sequence[Sequence[float]]) -> np.ndarray:
        p = Tensor(np.array(theta0, dtype=np.float64), requires_grad=True)
        opt, array, got = opt_class([p], **kwargs), p.data, []
        name = opt_class.__name__
        for g in grads:
            grad = np.array(g, dtype=np.float64)
            p.grad = Tensor(grad.copy())
            opt.step()
            assert np.array_equal(p.grad.data, grad), (
                f"{name}.step changed p.grad: the gradient is the caller's; make a new array wherever it changes "
                "(g + λθ)"
            )
            got.append(p.data.copy())
        assert p.data is array, (
            f"{name}.step replaced p.data: update it in place (a tied or viewed parameter must see it)"
        )
        return np.array(got)

    return steps
