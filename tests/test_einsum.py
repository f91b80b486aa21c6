"""``dlcore.einsum``: forward against ``numpy.einsum``, every operand's gradient against
finite differences (float64), the diagonal and broadcast cases, and bad equations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore.autograd import gradcheck

CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),            # matrix product
    ("bij,bjk", [(2, 2, 3), (2, 3, 4)]),        # batched, implicit output
    ("i,j->ij", [(3,), (4,)]),                  # outer product
    ("i,i->", [(5,), (5,)]),                    # dot product
    ("ii->", [(3, 3)]),                         # trace: gradient on the diagonal
    ("ii->i", [(3, 3)]),                        # diagonal
    ("iij->j", [(2, 2, 3)]),
    ("ji", [(2, 3)]),                           # implicit: alphabetical, a transpose
    ("ij->", [(2, 3)]),
    ("ij,k->i", [(2, 3), (4,)]),                # k only in one operand: broadcast gradient
    ("ij,ij->ij", [(2, 1), (2, 3)]),            # a size-1 dimension broadcasts
    ("...ij,...jk->...ik", [(5, 1, 2, 3), (4, 3, 2)]),
    ("...ij->...ji", [(2, 3, 4)]),
    ("bi,oij,bj->bo", [(2, 3), (4, 3, 5), (2, 5)]),  # bilinear layer, three operands
    ("b h q d, b h k d -> b h q k", [(1, 2, 3, 4), (1, 2, 5, 4)]),  # attention scores
]


@pytest.mark.parametrize("equation,shapes", CASES)
def test_forward_matches_numpy_and_gradients_match_finite_differences(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    got = dlcore.einsum(equation, *[dlcore.tensor(a) for a in arrays])
    np.testing.assert_allclose(got.numpy(), np.einsum(equation, *arrays), rtol=1e-12,
                               atol=1e-12)
    assert gradcheck(lambda *xs: dlcore.einsum(equation, *xs),
                     [dlcore.tensor(a) for a in arrays])
    got32 = dlcore.einsum(equation, [dlcore.tensor(a.astype(np.float32)) for a in arrays])
    assert got32.dtype == np.float32


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4), b=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_batched_product_is_matmul_with_its_gradients(m, k, n, b, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((b, m, k)), rng.standard_normal((k, n))
    a, c = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    a2, c2 = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    upstream = rng.standard_normal((b, m, n))
    dlcore.einsum("bmk,kn->bmn", a, c).backward(upstream)
    (a2 @ c2).backward(upstream)
    np.testing.assert_allclose(a.grad.numpy(), a2.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.grad.numpy(), c2.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_trace_gradient_is_the_identity_and_constants_get_none():
    x = dlcore.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    y = dlcore.einsum("ii->", x)
    assert y.item() == 12.0 and y.grad_fn is not None
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.eye(3))
    w = dlcore.tensor(np.ones((3, 2)), requires_grad=True)
    dlcore.einsum("ij,jk->ik", np.ones((2, 3)), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 2), 2.0))


def test_bad_equations_say_what_does_not_fit():
    a, b = np.ones((2, 3)), np.ones((4, 5))
    with pytest.raises(ValueError, match="2 operand subscripts but 1 operands"):
        dlcore.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match=r"'ijk' do not fit an operand of shape \(2, 3\)"):
        dlcore.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"does not fit operands of shapes \[\(2, 3\), \(4, 5\)\]"):
        dlcore.einsum("ij,jk->ik", a, b)
    with pytest.raises(ValueError, match="letters with at most one"):
        dlcore.einsum("i1->i", a)
    with pytest.raises(TypeError, match="equation must be a str"):
        dlcore.einsum(3, a)
