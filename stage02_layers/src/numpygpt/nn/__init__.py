"""numpygpt.nn — stage 02: modules, layers and fused ops with hand-derived backward passes.

import numpygpt.nn as nn
import numpygpt.nn.functional as F

nn.manual_seed(1337)            # one seed for every initialisation and dropout mask
layer = nn.Linear(128, 512)
"""

from . import functional, init
from .containers import ModuleDict, ModuleList, Sequential
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, RMSNorm, RotaryEmbedding, SiLU, Softmax, Tanh
from .module import IncompatibleKeys, Module, RemovableHandle
from .parameter import Parameter
from .random import default_generator, get_rng_state, manual_seed, set_rng_state

__all__ = [
    "functional",
    "init",
    "ModuleDict",
    "ModuleList",
    "Sequential",
    "GELU",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "Linear",
    "ReLU",
    "RMSNorm",
    "RotaryEmbedding",
    "SiLU",
    "Softmax",
    "Tanh",
    "IncompatibleKeys",
    "Module",
    "RemovableHandle",
    "Parameter",
    "default_generator",
    "get_rng_state",
    "manual_seed",
    "set_rng_state",
]
