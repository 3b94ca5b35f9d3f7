"""embedding: rows of a table picked by integer ids, one fused Function."""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable

from ._checks import check_float, check_tensor


def scatter_add_rows(ids: np.ndarray, rows: np.ndarray, num_rows: int) -> np.ndarray:
    """out[i] = sum of rows[j] over every j with ids[j] == i, for out (num_rows, D).

    NOTE: np.add.at(out, ids, rows) says the same in one line but is about 5x slower: it
    handles each row on its own. Sorting the ids puts equal ids next to each other, and
    np.add.reduceat then sums each run of equal ids in one vectorised pass.
    """
    # exercise 2.7: scatter_add_rows (the embedding's backward): add each row into the row of its id
    out = np.zeros((num_rows, rows.shape[-1]), dtype=rows.dtype)
    if ids.size == 0:  # reduceat cannot take an empty array: no id picked, no gradient
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out
    # end exercise 2.7


class Embedding(Function):
    """y = W[ids] for ids (...) integers, W (V, D) -> y (..., D).

    Backward: each row of W receives the sum of gy over every position that picked it:
        gW[v] = sum_{positions p with ids[p] == v} gy[p]      (V, D)
    """

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids

    def forward(self, weight: np.ndarray) -> np.ndarray:
        return weight[self.ids]

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        weight = self.inputs[0]
        return scatter_add_rows(self.ids.reshape(-1), gy.reshape(-1, weight.shape[1]), weight.shape[0])


def embedding(ids: Tensor | np.ndarray, weight: Tensor) -> Tensor:
    """Look up rows of `weight` (V, D) for integer `ids` of any shape -> (*ids.shape, D)."""
    check_tensor("embedding", weight=weight)
    check_float("embedding", weight=weight)
    try:
        arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    except ValueError as e:  # a ragged list
        raise ValueError(f"embedding: ids must be an array of integers: {e}") from None
    if arr.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {arr.dtype} (shape {arr.shape})")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    # NOTE: a pass over the ids (B*T ints), small next to the rows (B*T*D) the lookup copies.
    if arr.size and (arr.min() < 0 or arr.max() >= weight.shape[0]):
        bad = arr.max() if arr.max() >= weight.shape[0] else arr.min()
        raise IndexError(
            f"embedding: index {int(bad)} is out of range for an embedding with {weight.shape[0]} rows "
            f"(valid ids are 0..{weight.shape[0] - 1})"
        )
    return Embedding(arr)(weight)
