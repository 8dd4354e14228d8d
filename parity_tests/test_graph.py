"""Scalar computational graph: the published seed numbers, on both twins, and random expressions."""

import math
import random

import pytest
from hypothesis import given, strategies as st

import scratch.graph as sg
import torch_ref.graph as tg
from parity_tests.harness import compare

TWINS = pytest.mark.parametrize("V", [sg.Value, tg.Value], ids=["scratch", "torch"])


@TWINS
def test_affine_seed_example(V):
    """f = w·x + b at w=-2, x=5, b=3: f = -7, ∂f/∂w = x = 5, ∂f/∂x = w = -2, ∂f/∂b = 1."""
    w, x, b = V(-2.0), V(5.0), V(3.0)
    f = w * x + b
    f.backward()
    assert f.data == -7.0
    assert (w.grad, x.grad, b.grad) == (5.0, -2.0, 1.0)


def cs231n_neuron(V):
    """f = 1/(1 + exp(-(w0·x0 + w1·x1 + w2))) from primitive gates (CS231n, "Backprop")."""
    w0, x0, w1, x1, w2 = map(V, (2.0, -1.0, -3.0, -2.0, -3.0))
    dot = w0 * x0 + w1 * x1 + w2
    den = 1 + (-dot).exp()
    f = 1 / den
    return f, den, (w0, x0, w1, x1, w2)


@TWINS
def test_cs231n_sigmoid_neuron(V):
    f, den, (w0, x0, w1, x1, w2) = cs231n_neuron(V)
    f.backward()
    assert round(f.data, 2) == 0.73
    grads = [round(v.grad, 2) for v in (w0, x0, w1, x1, w2)]
    assert grads == [-0.20, 0.39, -0.39, -0.59, 0.20]
    # the 1/x gate sees input 1.37; its local gradient is -1/x² = -0.53
    assert round(den.data, 2) == 1.37
    assert round(den.grad, 2) == -0.53
    s = 1 / (1 + math.exp(-1.0))
    assert w0.grad == pytest.approx(x0.data * s * (1 - s), rel=1e-14)
    # one SGD step with learning rate 0.1
    w0.data -= 0.1 * w0.grad
    assert round(w0.data, 2) == 2.02
    assert w0.data > 2.0


@TWINS
@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 1.0, 4.0])
def test_sigmoid_derivative_node_by_node(V, x):
    """Built from +, *, exp and 1/x, the chain rule yields σ'(x) = σ(1−σ)."""
    xv = V(x)
    s = 1 / (1 + (-xv).exp())
    s.backward()
    sig = s.data
    assert xv.grad == pytest.approx(sig * (1 - sig), rel=1e-14, abs=1e-16)
    xs = V(x)
    single = xs.sigmoid()
    single.backward()
    assert single.data == pytest.approx(sig, rel=1e-15)
    assert xs.grad == pytest.approx(xv.grad, rel=1e-14)


@TWINS
def test_value_used_twice_gets_both_contributions(V):
    a = V(3.0)
    b = a + a
    b.backward()
    assert a.grad == 2.0  # an assignment instead of += would give 1
    c = V(3.0)
    d = c * c + c  # ∂d/∂c = 2c + 1 = 7
    d.backward()
    assert c.grad == 7.0


@TWINS
def test_leaves_accumulate_over_backward_calls(V):
    x = V(2.0)
    h = x * x
    y = h * 3.0
    y.backward()
    y.backward()
    assert x.grad == 2 * 12.0  # leaves accumulate, like torch
    assert h.grad == 3.0  # interior nodes show the latest pass


@TWINS
@pytest.mark.parametrize(
    "expr, value, grad",
    [
        (lambda x: 2 + x, 5.0, 1.0),
        (lambda x: 2 - x, 5.0, -1.0),
        (lambda x: x - 2, 5.0, 1.0),
        (lambda x: 2 * x, 5.0, 2.0),
        (lambda x: 2 / x, 0.5, -8.0),
        (lambda x: x / 2, 0.5, 0.5),
        (lambda x: x**3, -2.0, 12.0),
        (lambda x: 2**x, 3.0, 8 * math.log(2)),
        (lambda x: x**x, 2.0, 4 * (math.log(2) + 1)),
        (lambda x: x.log(), 4.0, 0.25),
        (lambda x: x.exp(), 1.0, math.e),
        (lambda x: x.tanh(), 0.5, 1 - math.tanh(0.5) ** 2),
        (lambda x: x.relu(), -1.0, 0.0),
        (lambda x: x.relu(), 0.0, 0.0),
        (lambda x: x.relu(), 2.0, 1.0),
    ],
)
def test_each_op_and_reflected_form(V, expr, value, grad):
    x = V(value)
    y = expr(x)
    y.backward()
    assert x.grad == pytest.approx(grad, rel=1e-14)


def random_expression(V, leaves, seed):
    """A random DAG over ``leaves``: every op draws operands from all earlier nodes (reuse)."""
    rnd = random.Random(seed)
    nodes = [V(v) for v in leaves]
    unary = [
        lambda a: a.tanh(),
        lambda a: a.sigmoid(),
        lambda a: a.relu(),
        lambda a: a.tanh().exp(),
        lambda a: (a * a + 0.1).log(),
        lambda a: a**2,
        lambda a: 2 ** a.tanh(),
        lambda a: 1 / (a * a + 1),
        lambda a: 3 - a,
        lambda a: -a,
    ]
    binary = [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / (b * b + 1),
        lambda a, b: (a * a + 0.5) ** b.tanh(),
    ]
    for _ in range(12):
        if rnd.random() < 0.5:
            nodes.append(rnd.choice(unary)(rnd.choice(nodes)))
        else:
            nodes.append(rnd.choice(binary)(rnd.choice(nodes), rnd.choice(nodes)))
    out = nodes[0]
    for n in nodes[1:]:
        out = out + n.tanh()
    return out, nodes


@given(
    leaves=st.lists(st.floats(-3, 3, allow_nan=False), min_size=2, max_size=5),
    seed=st.integers(0, 10**6),
)
def test_random_expressions_match_torch(leaves, seed):
    s_out, s_nodes = random_expression(sg.Value, leaves, seed)
    t_out, t_nodes = random_expression(tg.Value, leaves, seed)
    s_out.backward()
    t_out.backward()
    tol = dict(rtol=1e-12, atol=1e-12)
    compare("graph", "output", s_out.data, t_out.data, **tol)
    for i, (s, t) in enumerate(zip(s_nodes, t_nodes)):
        compare("graph", f"node {i} data", s.data, t.data, **tol)
        compare("graph", f"node {i} grad", s.grad, t.grad, **tol)


@TWINS
def test_deep_chain_has_no_recursion_limit(V):
    x = V(1.0)
    y = x
    for _ in range(3000):
        y = y + x
    y.backward()
    assert y.data == 3001.0 and x.grad == 3001.0


@TWINS
@pytest.mark.parametrize("bad", ["a", None, 1j, True, [1.0]])
def test_non_numeric_operands_raise_type_error(V, bad):
    with pytest.raises(TypeError, match="expected a real number"):
        V(bad)
    with pytest.raises(TypeError, match="expected a real number"):
        V(1.0) + bad
    with pytest.raises(TypeError, match="expected a real number"):
        V(1.0) * bad
    with pytest.raises(TypeError, match="expected a real number"):
        V(1.0) ** bad


def test_twins_do_not_mix():
    with pytest.raises(TypeError, match="got scratch.graph.Value"):
        tg.Value(1.0) + sg.Value(2.0)
    with pytest.raises(TypeError, match="got torch_ref.graph.Value"):
        sg.Value(1.0) * tg.Value(2.0)


def test_scratch_domain_errors_raise_instead_of_nan():
    with pytest.raises(ValueError, match="positive input, got -1.0"):
        sg.Value(-1.0).log()
    with pytest.raises(ZeroDivisionError, match="by zero"):
        sg.Value(1.0) / 0
    with pytest.raises(ValueError, match="not a real number"):
        sg.Value(-8.0) ** 0.5
    with pytest.raises(ValueError, match="positive base"):
        sg.Value(-2.0) ** sg.Value(2.0)


def test_scratch_overflow_raises_instead_of_inf_or_nan():
    big = sg.Value(1000.0)
    with pytest.raises(OverflowError, match=r"exp\(1000.0\) = inf"):
        big.exp() - big.exp()
    with pytest.raises(OverflowError, match="not a finite float"):
        sg.Value(1e200) * 1e200
    with pytest.raises(OverflowError, match="not a finite float"):
        sg.Value(10.0) ** 400
    with pytest.raises(ValueError, match="expected a finite real number, got nan"):
        sg.Value(float("nan"))
    with pytest.raises(ValueError, match="expected a finite real number, got inf"):
        sg.Value(math.inf) + 1
    # values stay finite while a gradient overflows: backward raises too
    x = sg.Value(1e-200)
    y = x**0.5
    with pytest.raises(OverflowError, match="gradient"):
        (y * 1e200 * 1e100).backward()
    # the torch twin carries inf − inf = nan on without a word
    tbig = tg.Value(1000.0)
    assert math.isnan((tbig.exp() - tbig.exp()).data)
