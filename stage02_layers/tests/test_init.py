"""numpygpt.nn.init and the random state: each initialiser's range and moments, PyTorch's
default initialisation of the layers, and seeding.

The statistical checks draw a large tensor from a seeded generator and allow 5 standard
errors: with a fixed seed they are deterministic, and a wrong formula (a bound off by a
factor sqrt(3), a variance instead of a standard deviation) misses by far more.

Select with `nox -s stage02 -- -m init`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor
from numpygpt.nn import init

pytestmark = pytest.mark.init
N = 200_000


def empty(*shape: int, dtype: type = np.float32) -> Tensor:
    return Tensor(np.full(shape, np.nan, dtype=dtype))


def assert_uniform(x: np.ndarray, a: float, b: float) -> None:
    """x looks like U(a, b): inside [a, b), reaching both ends, with its mean and variance."""
    n, width = x.size, b - a
    assert x.min() >= a and x.max() < b, f"values outside [{a}, {b})"
    assert x.min() < a + 1e-3 * width and x.max() > b - 1e-3 * width, "values do not fill the range"
    std = width / math.sqrt(12)
    assert abs(x.mean() - (a + b) / 2) < 5 * std / math.sqrt(n)
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n)


def assert_normal(x: np.ndarray, mean: float, std: float) -> None:
    n = x.size
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n)
    assert abs(np.mean(np.abs(x - mean) < std) - 0.6827) < 0.01, "not bell-shaped"


def test_uniform_() -> None:
    t = empty(N)
    assert init.uniform_(t, -0.3, 0.7, generator=np.random.default_rng(0)) is t
    assert_uniform(t.data, -0.3, 0.7)
    assert_uniform(init.uniform_(empty(N), generator=np.random.default_rng(1)).data, 0.0, 1.0)


def test_normal_() -> None:
    t = empty(500, 400)
    assert init.normal_(t, 2.0, 0.5, generator=np.random.default_rng(0)) is t
    assert_normal(t.data, 2.0, 0.5)
    assert_normal(init.normal_(empty(N), generator=np.random.default_rng(1)).data, 0.0, 1.0)


def test_zeros_and_ones() -> None:
    assert np.array_equal(init.zeros_(empty(3, 2)).data, np.zeros((3, 2)))
    assert np.array_equal(init.ones_(empty(3, 2)).data, np.ones((3, 2)))


def test_xavier_uniform_() -> None:
    t = empty(300, 700)  # fan_out 300, fan_in 700
    init.xavier_uniform_(t, gain=2.0, generator=np.random.default_rng(0))
    a = 2.0 * math.sqrt(6 / (300 + 700))
    assert_uniform(t.data, -a, a)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform_(mode: str) -> None:
    t = empty(400, 500)  # fan_out 400, fan_in 500
    init.kaiming_uniform_(t, mode=mode, nonlinearity="relu", generator=np.random.default_rng(0))
    fan = 500 if mode == "fan_in" else 400
    bound = math.sqrt(2) * math.sqrt(3 / fan)  # gain sqrt(2) for relu
    assert_uniform(t.data, -bound, bound)


def test_fans_count_the_receptive_field() -> None:
    t = empty(50, 40, 10)  # (out, in, k): fan_in = 40 * 10
    init.kaiming_uniform_(t, a=math.sqrt(5), generator=np.random.default_rng(0))
    bound = 1 / math.sqrt(400)
    assert_uniform(t.data, -bound, bound)


def test_calculate_gain() -> None:
    assert init.calculate_gain("linear") == 1.0 and init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))


def test_linear_default_init_is_pytorchs() -> None:
    """PyTorch: W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features))."""
    nn.manual_seed(0)
    lin = nn.Linear(400, 500)
    bound = 1 / math.sqrt(400)
    assert_uniform(lin.weight.data, -bound, bound)
    b = lin.bias.data
    assert b.min() >= -bound and b.max() < bound and b.max() - b.min() > 1.8 * bound  # 500 draws span it
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32


def test_embedding_default_init_is_standard_normal() -> None:
    nn.manual_seed(0)
    emb = nn.Embedding(1000, 200)
    assert emb.weight.dtype == np.float32
    assert_normal(emb.weight.data, 0.0, 1.0)


def test_layer_norm_init_is_ones_and_zeros() -> None:
    ln = nn.LayerNorm(6)
    assert np.array_equal(ln.weight.data, np.ones(6)) and np.array_equal(ln.bias.data, np.zeros(6))
    assert ln.weight.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initialisers_keep_the_dtype(dtype: type) -> None:
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_uniform_, init.zeros_, init.ones_):
        t = fill(empty(4, 3, dtype=dtype))
        assert t.dtype == dtype, f"{fill.__name__} changed {np.dtype(dtype)} to {t.dtype}"
    assert nn.Linear(3, 2, dtype=dtype).weight.dtype == dtype
    assert nn.Embedding(3, 2, dtype=dtype).weight.dtype == dtype


def test_init_errors() -> None:
    with pytest.raises(TypeError, match="uniform_: can only fill floating point tensors, got dtype int64"):
        init.uniform_(Tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(empty(5))
    with pytest.raises(ValueError, match="kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got 'fan'"):
        init.kaiming_uniform_(empty(2, 2), mode="fan")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")


# ----- seeding ---------------------------------------------------------------------------------
def build() -> nn.Module:
    return nn.Sequential(nn.Embedding(11, 8), nn.Linear(8, 16), nn.LayerNorm(16), nn.Linear(16, 11))


@pytest.mark.dropout
def test_manual_seed_gives_bit_identical_models() -> None:
    nn.manual_seed(1337)
    a = build()
    nn.manual_seed(1337)
    b = build()
    nn.manual_seed(1338)
    c = build()
    for (name, x), y, z in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values(), strict=True):
        assert x.tobytes() == y.tobytes(), f"{name} differs under the same seed"
        if name.endswith("weight") and not name.startswith("2."):  # LayerNorm's weight is all ones
            assert not np.array_equal(x, z), f"{name} is the same under a different seed"


@pytest.mark.dropout
def test_manual_seed_repeats_dropout_masks() -> None:
    x = Tensor(np.ones((20, 30), dtype=np.float32))
    nn.manual_seed(3)
    first = [F.dropout(x, 0.5).data for _ in range(2)]
    nn.manual_seed(3)
    again = [F.dropout(x, 0.5).data for _ in range(2)]
    assert not np.array_equal(*first), "successive masks should differ"
    for m, n in zip(first, again, strict=True):
        np.testing.assert_array_equal(m, n)


@pytest.mark.dropout
def test_manual_seed_reseeds_a_generator_already_held() -> None:
    gen = nn.default_generator()
    assert nn.manual_seed(5) is gen
    draw = gen.random(4)
    nn.manual_seed(5)
    np.testing.assert_array_equal(gen.random(4), draw)


@pytest.mark.dropout
def test_rng_state_round_trip() -> None:
    nn.manual_seed(0)
    build()
    state = nn.get_rng_state()
    first = build().state_dict()
    nn.set_rng_state(state)
    for x, y in zip(first.values(), build().state_dict().values(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_explicit_generator_leaves_the_default_alone() -> None:
    nn.manual_seed(9)
    expected = nn.default_generator().random(3)
    nn.manual_seed(9)
    init.normal_(empty(10, 10), generator=np.random.default_rng(0))
    F.dropout(Tensor(np.ones(10, dtype=np.float32)), 0.5, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(nn.default_generator().random(3), expected)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb, self.fc, self.ln = nn.Embedding(7, 4), nn.Linear(4, 5), nn.LayerNorm(5)

    def forward(self, ids: np.ndarray) -> Tensor:
        return self.ln(self.fc(self.emb(ids)))


def test_skip_init_draws_nothing_and_loading_gives_the_built_module() -> None:
    """skip_init builds a module without a single draw (the default generator stays where it
    was); loading a state dict then gives the module built the usual way, and the initialisers
    work again afterwards, also after a build that failed."""
    nn.manual_seed(3)
    built = _Tiny()
    state = nn.get_rng_state()
    skipped = init.skip_init(_Tiny)
    assert nn.get_rng_state() == state, "skip_init drew random numbers"
    assert [p.shape for p in skipped.parameters()] == [p.shape for p in built.parameters()]
    skipped.load_state_dict(built.state_dict())
    ids = np.array([[0, 3, 6]])
    np.testing.assert_array_equal(skipped(ids).data, built(ids).data)
    with pytest.raises(ValueError):
        init.skip_init(nn.Linear, -1, 5)
    drawn = init.normal_(empty(3))
    assert np.isfinite(drawn.data).all() and nn.get_rng_state() != state
