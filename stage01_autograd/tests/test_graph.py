"""Graph pictures (graph.py): to_mermaid and to_dot list every tensor and Function once, with
an edge input -> Function and Function -> output for each recorded call.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from numpygpt.autograd import Tensor, to_dot, to_mermaid

pytestmark = pytest.mark.graph

MERMAID_TENSOR = re.compile(r'^    (t\d+)\["([^"\n]*)"\]$')
MERMAID_FUNCTION = re.compile(r'^    (f\d+)\(\["([^"\n]*)"\]\)$')
MERMAID_EDGE = re.compile(r"^    ([tf]\d+) --> ([tf]\d+)$")
DOT_TENSOR = re.compile(r'^    (t\d+) \[shape=box, label="([^"\n]*)"\];$')
DOT_FUNCTION = re.compile(r'^    (f\d+) \[shape=ellipse, style=filled, fillcolor=lightgrey, label="([^"\n]*)"\];$')
DOT_EDGE = re.compile(r"^    ([tf]\d+) -> ([tf]\d+);$")


def parse(text: str, header: list[str], footer: list[str], patterns: tuple[re.Pattern, ...]):
    """Nodes {id: label} of tensors and Functions, and edges, from a Mermaid or DOT text.

    Every line must be a header/footer line, a node or an edge: anything else fails the test.
    """
    lines = text.rstrip("\n").split("\n")
    assert lines[: len(header)] == header
    assert lines[len(lines) - len(footer) :] == footer
    tensor_re, function_re, edge_re = patterns
    tensors, functions, edges = {}, {}, []
    for line in lines[len(header) : len(lines) - len(footer)]:
        if m := tensor_re.match(line):
            tensors[m[1]] = m[2]
        elif m := function_re.match(line):
            functions[m[1]] = m[2]
        elif m := edge_re.match(line):
            edges.append((m[1], m[2]))
        else:
            raise AssertionError(f"not a node or an edge: {line!r}")
    for a, b in edges:
        # edges run tensor -> Function -> tensor, between declared nodes
        assert (a in tensors and b in functions) or (a in functions and b in tensors), (a, b)
    return tensors, functions, edges


def parse_mermaid(text: str):
    return parse(text, ["graph LR"], [], (MERMAID_TENSOR, MERMAID_FUNCTION, MERMAID_EDGE))


def parse_dot(text: str):
    return parse(text, ["digraph G {", "    rankdir=LR;"], ["}"], (DOT_TENSOR, DOT_FUNCTION, DOT_EDGE))


def small_graph() -> Tensor:
    # d = a * b + a: 4 tensors (a, b, c, d), 2 Functions (Mul, Add), 6 edges
    a = Tensor(np.ones((2, 3)), requires_grad=True, name="a")
    b = Tensor(np.ones((2, 3)), requires_grad=True, name="b")
    c = a * b
    c.name = "c"
    return c + a


@pytest.mark.parametrize(
    "parse_text, render", [(parse_mermaid, to_mermaid), (parse_dot, to_dot)], ids=["mermaid", "dot"]
)
def test_small_graph_nodes_and_edges(parse_text, render) -> None:
    tensors, functions, edges = parse_text(render(small_graph()))
    assert sorted(tensors.values()) == ["2×3", "a 2×3", "b 2×3", "c 2×3"]
    assert sorted(functions.values()) == ["Add", "Mul"]
    assert len(edges) == 6 and len(set(edges)) == 6
    by_label = {label: node for node, label in {**tensors, **functions}.items()}
    a, b, c, d = (by_label[k] for k in ("a 2×3", "b 2×3", "c 2×3", "2×3"))
    mul, add = by_label["Mul"], by_label["Add"]
    assert set(edges) == {(a, mul), (b, mul), (mul, c), (c, add), (a, add), (add, d)}


def test_mermaid_text_of_a_scalar_loss() -> None:
    x = Tensor(np.ones(3), requires_grad=True, name="x")
    text = to_mermaid(x.tanh().sum())
    assert text == (
        "graph LR\n"
        '    t0["scalar"]\n'
        '    t1["3"]\n'
        '    t2["x 3"]\n'
        '    f0(["Sum"])\n'
        '    f1(["Tanh"])\n'
        "    t1 --> f0\n"
        "    f0 --> t0\n"
        "    t2 --> f1\n"
        "    f1 --> t1\n"
    )


def test_a_leaf_alone() -> None:
    x = Tensor(np.ones(2), name="x")
    assert parse_mermaid(to_mermaid(x)) == ({"t0": "x 2"}, {}, [])
    assert parse_dot(to_dot(x)) == ({"t0": "x 2"}, {}, [])


def test_a_3000_node_chain() -> None:
    # 1500 tanh calls: 1501 tensors and 1500 Functions, each link two edges.
    y = Tensor(np.array([0.5]), requires_grad=True)
    for _ in range(1500):
        y = y.tanh()
    tensors, functions, edges = parse_mermaid(to_mermaid(y))
    assert (len(tensors), len(functions), len(edges)) == (1501, 1500, 3000)
    tensors, functions, edges = parse_dot(to_dot(y))
    assert (len(tensors), len(functions), len(edges)) == (1501, 1500, 3000)
