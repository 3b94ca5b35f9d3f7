"""Pictures of a computational graph: Mermaid (for Markdown) and Graphviz DOT text.

Tensors are boxes, Functions are rounded; edges run forward in time: input -> Function ->
output, the reverse of the creator links that backward follows.
"""

from __future__ import annotations

from .checks import show
from .function import Function
from .tensor import Tensor


def _walk(root: Tensor, op: str) -> tuple[list[Tensor], list[Function]]:
    """Every tensor and Function in the graph that produced `root`, each once."""
    if not isinstance(root, Tensor):
        raise TypeError(f"{op}: root must be a Tensor, got {show(root)}")
    tensors: dict[int, Tensor] = {id(root): root}
    functions: dict[int, Function] = {}
    stack = [root.creator] if root.creator is not None else []
    while stack:
        f = stack.pop()
        if id(f) in functions:
            continue
        functions[id(f)] = f
        for x in f.inputs:
            tensors.setdefault(id(x), x)
            if x.creator is not None and id(x.creator) not in functions:
                stack.append(x.creator)
        for ref in f.outputs:
            y = ref()
            if y is not None:
                tensors.setdefault(id(y), y)
    return list(tensors.values()), list(functions.values())


def _label(t: Tensor) -> str:
    shape = "scalar" if t.ndim == 0 else "×".join(str(n) for n in t.shape)
    return f"{t.name} {shape}" if t.name else shape


def _edges(functions: list[Function], ids: dict[int, str]) -> list[tuple[str, str]]:
    edges = []
    for f in functions:
        for x in f.inputs:
            edges.append((ids[id(x)], ids[id(f)]))
        for ref in f.outputs:
            y = ref()
            if y is not None:
                edges.append((ids[id(f)], ids[id(y)]))
    return edges


def _ids(tensors: list[Tensor], functions: list[Function]) -> dict[int, str]:
    ids = {id(t): f"t{i}" for i, t in enumerate(tensors)}
    ids.update({id(f): f"f{i}" for i, f in enumerate(functions)})
    return ids


def to_mermaid(root: Tensor) -> str:
    """A Mermaid `graph LR` of the graph that produced `root`, ready to paste into Markdown."""
    tensors, functions = _walk(root, "to_mermaid")
    ids = _ids(tensors, functions)
    lines = ["graph LR"]
    lines += [f'    {ids[id(t)]}["{_label(t)}"]' for t in tensors]
    lines += [f'    {ids[id(f)]}(["{f.name}"])' for f in functions]
    lines += [f"    {a} --> {b}" for a, b in _edges(functions, ids)]
    return "\n".join(lines) + "\n"


def to_dot(root: Tensor) -> str:
    """Graphviz DOT text of the graph that produced `root` (render with `dot -Tpng`)."""
    tensors, functions = _walk(root, "to_dot")
    ids = _ids(tensors, functions)
    lines = ["digraph G {", "    rankdir=LR;"]
    lines += [f'    {ids[id(t)]} [shape=box, label="{_label(t)}"];' for t in tensors]
    lines += [
        f'    {ids[id(f)]} [shape=ellipse, style=filled, fillcolor=lightgrey, label="{f.name}"];' for f in functions
    ]
    lines += [f"    {a} -> {b};" for a, b in _edges(functions, ids)]
    lines.append("}")
    return "\n".join(lines) + "\n"
