"""``nn.Embedding`` and ``F.embedding``: lookups against NumPy indexing, the table's gradient
against finite differences and a scatter-add, padding rows, and bad indices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 7), dim=st.integers(1, 5),
       shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), seed=st.integers(0, 2**16))
def test_lookup_and_gradient_match_numpy(rows, dim, shape, seed):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((rows, dim))
    index = rng.integers(0, rows, tuple(shape))
    weight = dlcore.tensor(table, requires_grad=True)
    out = F.embedding(index, weight)
    np.testing.assert_array_equal(out.numpy(), table[index])
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    want = np.zeros_like(table)
    np.add.at(want, index.reshape(-1), upstream.reshape(-1, dim))  # repeated ids add up
    np.testing.assert_allclose(weight.grad.numpy(), want, rtol=1e-12, atol=1e-12)


def test_gradcheck_with_repeated_ids_and_padding():
    table = np.random.default_rng(0).standard_normal((5, 3))
    index = np.array([[0, 3, 3], [4, 0, 1]])
    assert gradcheck(lambda w: F.embedding(index, w) ** 2, [dlcore.tensor(table)])
    weight = dlcore.tensor(table, requires_grad=True)
    (F.embedding(index, weight, padding_idx=3) ** 2).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[3], 0.0)  # padding gets no gradient
    assert np.all(weight.grad.numpy()[[0, 1, 4]] != 0)


def test_module_init_padding_and_training():
    dlcore.manual_seed(0)
    emb = nn.Embedding(50, 8, padding_idx=-1)
    assert emb.padding_idx == 49 and repr(emb) == "Embedding(50, 8, padding_idx=49)"
    assert emb.weight.shape == (50, 8) and emb.weight.dtype == np.float32
    np.testing.assert_array_equal(emb.weight.numpy()[49], 0.0)
    assert 0.8 < emb.weight.numpy()[:49].std() < 1.2  # N(0, 1), as PyTorch
    # Ids that share a class learn to score it: a bag-of-ids classifier trains.
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 49, (256, 6))
    labels = (ids % 2).sum(1) > 3
    model = nn.Sequential(emb, nn.Flatten(), nn.Linear(48, 2))
    opt = dlcore.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids), labels.astype(np.int64))
        loss.backward()
        opt.step()
    accuracy = (model(ids).argmax(1).numpy() == labels).mean()
    assert accuracy > 0.95, accuracy
    np.testing.assert_array_equal(emb.weight.numpy()[49], 0.0)


def test_bad_input_names_what_is_wrong():
    emb = nn.Embedding(4, 2)
    with pytest.raises(ValueError, match=r"index 4 at position \(1, 0\) is out of range for 4 "):
        emb(np.array([[0], [4]]))
    with pytest.raises(ValueError, match="index -1"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match=r"indices must be integers, got dtype float32 \(shape"):
        emb(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"weight must be \(num_embeddings, embedding_dim\)"):
        F.embedding(np.array([0]), dlcore.zeros(3))
    with pytest.raises(ValueError, match="padding_idx 4 is out of range for 4"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 2)
    with pytest.raises(TypeError, match="padding_idx must be an int"):
        F.embedding(np.array([0]), dlcore.zeros((2, 2)), padding_idx=0.5)
