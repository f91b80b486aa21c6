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


@pytest.mark.parametrize("name,shapes,reference", [
    ("bmm", [(2, 3, 4), (2, 4, 5)], np.matmul),
    ("outer", [(3,), (4,)], np.outer),
    ("dot", [(5,), (5,)], np.dot),
    ("trace", [(3, 3)], np.trace),
    ("trace", [(2, 4)], np.trace),
    ("diagonal", [(3, 4)], np.diagonal),
])
def test_products_match_numpy_with_gradients(name, shapes, reference):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes]
    fn = getattr(dlcore, name)
    np.testing.assert_allclose(fn(*arrays).numpy(), reference(*arrays), rtol=1e-12)
    method = getattr(dlcore.tensor(arrays[0]), name)
    np.testing.assert_allclose(method(*arrays[1:]).numpy(), reference(*arrays), rtol=1e-12)
    assert gradcheck(fn, [dlcore.tensor(a) for a in arrays])


@pytest.mark.parametrize("offset", [-3, -1, 0, 1, 2, 5])
def test_diagonal_offsets_and_their_gradient(offset):
    x = np.arange(12.0).reshape(3, 4)
    t = dlcore.tensor(x, requires_grad=True)
    d = t.diagonal(offset)
    np.testing.assert_array_equal(d.numpy(), np.diagonal(x, offset))
    d.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.eye(3, 4, offset))


def test_aliases_and_unbind():
    x = dlcore.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(x.amax(1).numpy(), [2.0, 5.0])
    np.testing.assert_array_equal(x.amin(dim=0).numpy(), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(x.clip(1, 4).numpy(), np.clip(x.numpy(), 1, 4))
    assert x.nelement() == 6 and x.ndimension() == 2
    rows = x.unbind(1)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    sum(r * (i + 1) for i, r in enumerate(rows)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ValueError, match="0-d tensor"):
        dlcore.tensor(1.0).unbind()


def test_products_name_the_shapes_they_refuse():
    with pytest.raises(ValueError, match=r"bmm: expected \(B, N, K\) and \(B, K, M\), got shapes "
                                         r"\(2, 3, 4\) and \(3, 4, 5\)"):
        dlcore.bmm(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"outer: expected two 1-D tensors, got shapes \(2, 2\)"):
        dlcore.outer(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"dot: .* same length, got shapes \(2,\) and \(3,\)"):
        dlcore.dot(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=r"trace: expected a 2-D tensor, got shape \(3,\)"):
        dlcore.trace(np.ones(3))
    with pytest.raises(ValueError, match=r"diagonal: expected a 2-D tensor, got shape"):
        dlcore.diagonal(np.ones((2, 2, 2)))
