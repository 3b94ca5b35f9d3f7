"""numpygpt.utils.data: from token ids to training batches, and the data step that makes them.

Dataset, TensorDataset, TokenDataset   samples by index (TokenDataset: next-token windows)
DataLoader                             batches, shuffling, epochs (PyTorch semantics, NumPy arrays)
get_batch                              B random windows per call, the way GPT training samples
load_split, load_meta                  read what the data step wrote (uint16 memmap, meta.json)
prepare                                the data step (python -m numpygpt.utils.data.prepare)
"""

from .batch import get_batch, load_meta, load_split
from .corpus import ChecksumError, fetch_corpus
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, TensorDataset, TokenDataset
from .prepare import prepare

__all__ = [
    "ChecksumError",
    "DataLoader",
    "Dataset",
    "TensorDataset",
    "TokenDataset",
    "default_collate",
    "fetch_corpus",
    "get_batch",
    "load_meta",
    "load_split",
    "prepare",
]
