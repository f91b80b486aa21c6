"""tensor_index.py: index_select, masked_select, scatter and scatter_add, against NumPy and
loop references (forward) and finite differences (float64 gradients)."""

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcore
from dlcore.autograd import gradcheck

SETTINGS = settings(max_examples=40, deadline=None)


def _floats(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-3, 3, allow_subnormal=False))


# ----------------------------------------------------------------- index_select
@st.composite
def _select_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    size = shape[dim]
    index = draw(st.lists(st.integers(-size, size - 1), max_size=6)) if size else []
    return draw(_floats(shape)), dim, np.array(index, dtype=np.int64)


@SETTINGS
@given(_select_cases())
def test_index_select_matches_numpy_take_with_repeats_and_negatives(case):
    data, dim, index = case
    check_op(lambda t: dlcore.index_select(t, dim, index), lambda a: np.take(a, index, dim),
             [data], float32_rtol=0)
    check_op(lambda t: t.index_select(dim, dlcore.tensor(index)),
             lambda a: np.take(a, index, dim), [data], grad=False)


def test_index_select_accumulates_repeats_keeps_ints_and_names_bad_indices():
    t = dlcore.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    t.index_select(1, [2, 2, 0]).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[1, 0, 2], [1, 0, 2]])
    assert t.index_select(0, np.int64(1)).shape == (1, 3)  # a single number selects one slice
    ints = dlcore.tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert ints.index_select(1, [1]).dtype == np.int32
    with pytest.raises(IndexError, match=r"index_select: .*\[-3, 3\).*size 3.*got 5"):
        t.index_select(1, [0, 5])
    with pytest.raises(IndexError, match=r"got -3 at index position \(1,\)"):
        t.index_select(0, [1, -3])
    with pytest.raises(TypeError, match="index must hold integers, got dtype float64"):
        t.index_select(0, np.array([0.0]))
    with pytest.raises(ValueError, match=r"index must be 1-D.*\(1, 2\)"):
        t.index_select(0, [[0, 1]])
    with pytest.raises(ValueError, match="index_select: dim 2 is out of range"):
        t.index_select(2, [0])


# ----------------------------------------------------------------- masked_select
@SETTINGS
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0,
                                         max_side=4), st.data())
def test_masked_select_broadcasts_mask_and_input_together(shapes, draw):
    x_shape, mask_shape = shapes.input_shapes
    data = draw.draw(_floats(x_shape))
    mask = draw.draw(hnp.arrays(np.bool_, mask_shape))

    def reference(a):
        return np.broadcast_to(a, shapes.result_shape)[np.broadcast_to(mask, shapes.result_shape)]

    check_op(lambda t: dlcore.masked_select(t, mask), reference, [data], float32_rtol=0)
    out = dlcore.tensor(data).masked_select(dlcore.tensor(mask))
    assert out.ndim == 1 and out.shape[0] == np.broadcast_to(mask, shapes.result_shape).sum()


def test_masked_select_refuses_non_bool_masks_and_clashing_shapes():
    x = dlcore.tensor(np.arange(6.0).reshape(2, 3))
    assert x.masked_select(x > 2.5).numpy().tolist() == [3, 4, 5]
    with pytest.raises(TypeError, match="masked_select: mask must be a bool.*int64"):
        x.masked_select(np.array([1, 0, 1]))
    with pytest.raises(ValueError, match=r"mask of shape \(2,\) and input of shape \(2, 3\)"):
        x.masked_select(np.array([True, False]))


# ----------------------------------------------------------------- scatter / scatter_add
def _scatter_by_loops(x, dim, index, src, add):
    """PyTorch's definition, one element at a time in C order (a later write wins)."""
    out = x.copy()
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        value = src if np.ndim(src) == 0 else src[pos]
        if add:
            out[tuple(target)] += value
        else:
            out[tuple(target)] = value
    return out


@st.composite
def _scatter_cases(draw, unique):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    dim = draw(st.integers(0, len(shape) - 1))
    # index no larger than the input outside dim, src no smaller than index anywhere.
    index_shape = tuple(draw(st.integers(0, n if d != dim else (n if unique else 5)))
                        for d, n in enumerate(shape))
    src_shape = tuple(n + draw(st.integers(0, 2)) for n in index_shape)
    size = shape[dim]
    if unique:  # each slice along dim writes distinct places: a permutation's head
        perm = np.argsort(draw(_floats(index_shape[:dim] + (size,) + index_shape[dim + 1:])),
                          axis=dim, kind="stable")
        index = np.take(perm, np.arange(index_shape[dim]), axis=dim)
    else:
        index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-size, size - 1)))
    return draw(_floats(shape)), dim, index, draw(_floats(src_shape))


@SETTINGS
@given(_scatter_cases(unique=False))
def test_scatter_add_matches_the_loop_definition_and_passes_gradcheck(case):
    data, dim, index, src = case
    positive = index % data.shape[dim]
    check_op(lambda x, s: dlcore.scatter_add(x, dim, index, s),
             lambda x, s: _scatter_by_loops(x, dim, positive, s, add=True), [data, src],
             float32_rtol=1e-5, float32_atol=1e-5)


@SETTINGS
@given(_scatter_cases(unique=False))
def test_scatter_matches_the_loop_definition_and_passes_gradcheck(case):
    # Repeated places too: only the element that lands gets a gradient, so finite
    # differences agree.
    data, dim, index, src = case
    positive = index % data.shape[dim]
    check_op(lambda x, s: dlcore.scatter(x, dim, index, s),
             lambda x, s: _scatter_by_loops(x, dim, positive, s, add=False), [data, src],
             float32_rtol=0)
    check_op(lambda x: x.scatter(dim, index, -1.5),
             lambda x: _scatter_by_loops(x, dim, positive, -1.5, add=False), [data],
             float32_rtol=0)


@SETTINGS
@given(_scatter_cases(unique=True))
def test_scatter_gradients_are_pytorchs_when_places_are_distinct(case):
    data, dim, index, src = case
    x = dlcore.tensor(data, requires_grad=True)
    s = dlcore.tensor(src, requires_grad=True)
    g = rng(2).standard_normal(data.shape)
    x.scatter(dim, index, s).backward(g)
    written = _scatter_by_loops(np.zeros(data.shape), dim, index, 1.0, add=False) == 1
    np.testing.assert_array_equal(x.grad.numpy(), np.where(written, 0, g))
    want_src = np.zeros(src.shape)  # PyTorch's grad.gather(dim, index), padded to src
    for pos in np.ndindex(index.shape):
        want_src[pos] = g[pos[:dim] + (index[pos],) + pos[dim + 1:]]
    np.testing.assert_array_equal(s.grad.numpy(), want_src)


def test_scatter_last_write_wins_and_only_it_gets_a_gradient():
    x = dlcore.zeros(1, 3, dtype=np.float64, requires_grad=True)
    src = dlcore.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    out = x.scatter(1, np.array([[0, 0, 2]]), src)
    assert out.numpy().tolist() == [[2.0, 0.0, 3.0]]
    out.backward(np.array([[10.0, 20.0, 30.0]]))
    assert src.grad.numpy().tolist() == [[0.0, 10.0, 30.0]]
    assert x.grad.numpy().tolist() == [[0.0, 20.0, 0.0]]
    assert gradcheck(lambda a, s: a.scatter(1, np.array([[0, 0, 2]]), s),
                     [x.numpy(), src.numpy()])


def test_scatter_value_keyword_ints_and_one_hot():
    labels = np.array([2, 0, 1])
    one_hot = dlcore.zeros(3, 4).scatter(1, labels[:, None], 1.0)
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(4)[labels])
    assert one_hot.dtype == np.float32
    same = dlcore.scatter(dlcore.zeros(3, 4), 1, labels[:, None], value=1.0)
    np.testing.assert_array_equal(same.numpy(), one_hot.numpy())
    counts = dlcore.scatter_add(dlcore.zeros(3, dtype=np.int64), 0, np.array([0, 2, 2]),
                                np.ones(3, dtype=np.int64))
    assert counts.dtype == np.int64 and counts.numpy().tolist() == [1, 0, 2]
    base = dlcore.tensor(np.arange(4.0))
    base.scatter(0, np.array([0]), 9.0)
    assert base.numpy().tolist() == [0, 1, 2, 3]  # out of place


def test_scatter_names_bad_arguments():
    x = dlcore.zeros(2, 3)
    with pytest.raises(IndexError, match=r"scatter: .*\[-3, 3\).*size 3.*got 3"):
        x.scatter(1, np.array([[0, 3]]), 1.0)
    with pytest.raises(IndexError, match=r"scatter_add: .*\[-2, 2\)"):
        x.scatter_add(0, np.array([[2]]), dlcore.ones(1, 1))
    with pytest.raises(ValueError, match=r"index of shape \(1, 4\) is larger than src \(1, 4\) "
                                         r"or the input \(2, 3\) in dim 1"):
        x.scatter(0, np.zeros((1, 4), np.int64), dlcore.ones(1, 4))
    with pytest.raises(ValueError, match=r"index of shape \(1, 3\) is larger than src \(1, 2\)"):
        x.scatter_add(0, np.zeros((1, 3), np.int64), dlcore.ones(1, 2))
    with pytest.raises(ValueError, match=r"src has shape \(3,\).*\(2, 3\)"):
        x.scatter(1, np.zeros((1, 1), np.int64), dlcore.ones(3))
    with pytest.raises(ValueError, match=r"index has shape \(2,\) but the input has shape"):
        x.scatter(1, np.array([0, 1]), 0.0)
    with pytest.raises(TypeError, match="index must hold integers"):
        x.scatter(1, np.zeros((1, 1)), 0.0)
    with pytest.raises(TypeError, match="src of dtype float32 cannot be written into an input "
                                        "of dtype int64"):
        dlcore.zeros(2, dtype=np.int64).scatter(0, np.array([0]), dlcore.ones(1))
    with pytest.raises(TypeError, match="exactly one of src and value"):
        x.scatter(1, np.zeros((1, 1), np.int64))


def test_gather_reports_the_bad_index_value_and_size():
    t = dlcore.tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match=r"gather: .*\[-4, 4\).*size 4\), got 7 at index "
                                         r"position \(1, 0\)"):
        t.gather(1, np.array([[0], [7], [0]]))


def test_index_ops_name_their_graph_nodes():
    x = dlcore.tensor(np.ones((2, 2)), requires_grad=True)
    idx = np.zeros((1, 2), np.int64)
    assert x.index_select(0, [1]).grad_fn.name == "IndexSelectBackward"
    assert x.masked_select(x > 0).grad_fn.name == "MaskedSelectBackward"
    assert x.scatter(0, idx, x).grad_fn.name == "ScatterBackward"
    assert x.scatter(0, idx, 0.0).grad_fn.name == "ScatterBackward"
    assert x.scatter_add(0, idx, x).grad_fn.name == "ScatterAddBackward"
