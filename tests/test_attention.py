"""scaled_dot_product_attention, MultiheadAttention and the Transformer encoder, against the
NumPy references in dlcore.reference.attention (float64) and finite differences."""

from __future__ import annotations

import math
import time
from typing import Any, Dict, Optional

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.reference import attention as ref

SDPA = F.scaled_dot_product_attention


# ----------------------------------------------------------------- scaled_dot_product_attention
def _qkv(seed: int, batch: tuple, L: int, S: int, E: int, Ev: int) -> tuple:
    r = rng(seed)
    return (r.standard_normal(batch + (L, E)), r.standard_normal(batch + (S, E)),
            r.standard_normal(batch + (S, Ev)))


def _bool_mask(r: np.random.Generator, shape: tuple) -> np.ndarray:
    mask = r.random(shape) < 0.7
    mask[..., 0] = True  # no query loses every key: that case has its own test
    return mask


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "bool_batched"])
@pytest.mark.parametrize("batch,L,S,E,Ev", [((), 3, 4, 5, 2), ((2,), 4, 4, 3, 3),
                                            ((2, 3), 5, 2, 4, 6), ((1, 2), 1, 1, 1, 1)])
def test_sdpa_forward_and_gradients(mask_kind: str, batch: tuple, L: int, S: int, E: int,
                                    Ev: int) -> None:
    q, k, v = _qkv(1, batch, L, S, E, Ev)
    r = rng(2)
    kwargs: Dict[str, Any] = {}
    if mask_kind == "bool":
        kwargs["attn_mask"] = _bool_mask(r, (L, S))
    elif mask_kind == "bool_batched":
        kwargs["attn_mask"] = _bool_mask(r, batch + (L, S))
    elif mask_kind == "float":
        kwargs["attn_mask"] = r.standard_normal((L, S))
    elif mask_kind == "causal":
        kwargs["is_causal"] = True

    check_op(lambda a, b, c: SDPA(a, b, c, **kwargs),
             lambda a, b, c: ref.scaled_dot_product_attention(a, b, c, **kwargs),
             [q, k, v], rtol=1e-10, atol=1e-12, float32_rtol=1e-4, float32_atol=1e-5)


def test_sdpa_float_mask_gets_a_gradient() -> None:
    q, k, v = _qkv(3, (2,), 3, 4, 2, 3)
    mask = rng(4).standard_normal((3, 4))
    check_op(lambda a, b, c, m: SDPA(a, b, c, attn_mask=m),
             lambda a, b, c, m: ref.scaled_dot_product_attention(a, b, c, attn_mask=m),
             [q, k, v, mask], rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(batch=st.lists(st.integers(1, 3), min_size=0, max_size=2), L=st.integers(1, 5),
       S=st.integers(1, 5), E=st.integers(1, 4), Ev=st.integers(1, 4),
       scale=st.one_of(st.none(), st.floats(0.1, 2.0)), causal=st.booleans(),
       seed=st.integers(0, 2**16))
def test_sdpa_matches_reference_for_any_shape(batch: list, L: int, S: int, E: int, Ev: int,
                                              scale: Optional[float], causal: bool,
                                              seed: int) -> None:
    q, k, v = _qkv(seed, tuple(batch), L, S, E, Ev)
    got = SDPA(q, k, v, is_causal=causal, scale=scale)
    want = ref.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    assert got.shape == tuple(batch) + (L, Ev)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_sdpa_broadcasts_batch_dimensions() -> None:
    r = rng(5)
    q = r.standard_normal((2, 4, 3, 5))  # (N, H, L, E)
    k = r.standard_normal((2, 1, 6, 5))  # shared across heads
    v = r.standard_normal((1, 4, 6, 2))
    got = SDPA(q, k, v)
    want = ref.scaled_dot_product_attention(q, np.broadcast_to(k, (2, 4, 6, 5)),
                                            np.broadcast_to(v, (2, 4, 6, 2)))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_sdpa_causal_uses_only_earlier_keys() -> None:
    q, k, v = _qkv(6, (), 4, 4, 3, 2)
    out = SDPA(q, k, v, is_causal=True).numpy()
    v_changed = v.copy()
    v_changed[3] += 100.0  # only the last query may see the last key
    out_changed = SDPA(q, k, v_changed, is_causal=True).numpy()
    np.testing.assert_array_equal(out[:3], out_changed[:3])
    assert not np.allclose(out[3], out_changed[3])
    # The first query sees only the first key: its output is that value.
    np.testing.assert_allclose(out[0], v[0], rtol=1e-12)


def test_sdpa_fully_masked_row_gives_zero_output_and_zero_gradient() -> None:
    q, k, v = _qkv(7, (2,), 3, 4, 2, 3)
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False  # query 1 may attend to nothing
    qt, kt, vt = (dlcore.tensor(a, requires_grad=True) for a in (q, k, v))
    out = SDPA(qt, kt, vt, attn_mask=mask)
    np.testing.assert_array_equal(out.numpy()[:, 1], 0.0)
    assert np.isfinite(out.numpy()).all()
    out.sum().backward()
    np.testing.assert_array_equal(qt.grad.numpy()[:, 1], 0.0)
    assert all(np.isfinite(t.grad.numpy()).all() for t in (qt, kt, vt))
    # A float mask of -inf does the same, and the other rows are the reference's.
    fmask = np.where(mask, 0.0, -np.inf)
    np.testing.assert_array_equal(SDPA(q, k, v, attn_mask=fmask).numpy(), out.numpy())
    np.testing.assert_allclose(out.numpy(), ref.scaled_dot_product_attention(q, k, v, mask),
                               rtol=1e-12)
    assert gradcheck(lambda a, b, c: SDPA(a, b, c, attn_mask=mask), [q, k, v])


def test_sdpa_empty_sequences() -> None:
    q, k, v = _qkv(8, (2,), 3, 0, 4, 5)
    out = SDPA(q, k, v)  # no keys: every query reads nothing
    assert out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out.numpy(), 0.0)
    q, k, v = _qkv(8, (2,), 0, 3, 4, 5)
    assert SDPA(q, k, v).shape == (2, 0, 5)


def test_sdpa_nan_stays_in_its_row() -> None:
    q, k, v = _qkv(9, (), 3, 4, 2, 2)
    q[1, 0] = np.nan
    out = SDPA(q, k, v).numpy()
    assert np.isnan(out[1]).all()
    assert np.isfinite(out[[0, 2]]).all()


def test_sdpa_dtypes_and_layouts() -> None:
    q, k, v = _qkv(10, (2,), 3, 4, 5, 2)
    want = ref.scaled_dot_product_attention(q, k, v)
    ints = SDPA(np.arange(6).reshape(2, 3), np.ones((4, 3), dtype=np.int64), np.eye(4, 2,
                dtype=np.int32))
    assert ints.dtype == np.float32
    np.testing.assert_allclose(
        ints.numpy(), ref.scaled_dot_product_attention(np.arange(6.0).reshape(2, 3),
                                                       np.ones((4, 3)), np.eye(4, 2)),
        rtol=1e-6)
    # Non-contiguous views give the same result.
    qt = np.ascontiguousarray(np.swapaxes(q, -1, -2))
    strided_k = np.repeat(k, 2, axis=-1)[..., ::2]
    assert not strided_k.flags.c_contiguous
    got = SDPA(np.swapaxes(qt, -1, -2), strided_k, v[:, ::-1][:, ::-1])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert SDPA(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)).dtype \
        == np.float32


def test_sdpa_dropout() -> None:
    r = rng(11)
    q, k = r.standard_normal((2, 5, 3)), r.standard_normal((2, 5, 3))
    eye = np.broadcast_to(np.eye(5), (2, 5, 5))  # the output is the dropped weights
    weights = ref.scaled_dot_product_attention(q, k, eye)
    dlcore.manual_seed(0)
    got = SDPA(q, k, eye, dropout_p=0.5).numpy()
    kept = got != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(got[kept], 2.0 * weights[kept], rtol=1e-12)
    dlcore.manual_seed(0)
    np.testing.assert_array_equal(SDPA(q, k, eye, dropout_p=0.5).numpy(), got)
    np.testing.assert_array_equal(SDPA(q, k, eye, dropout_p=1.0).numpy(), 0.0)


@pytest.mark.parametrize("args,kwargs,exc,words", [
    (((2, 3, 4), (2, 5, 3), (2, 5, 6)), {}, ValueError, ["key (2, 5, 3)", "query (2, 3, 4)"]),
    (((2, 3, 4), (2, 5, 4), (2, 6, 6)), {}, ValueError, ["value (2, 6, 6)", "key (2, 5, 4)"]),
    (((4,), (5, 4), (5, 6)), {}, ValueError, ["query", "(4,)"]),
    (((3, 4), (5, 4), (5, 6)), {"attn_mask": np.ones((3, 4), bool)}, ValueError,
     ["attn_mask of shape (3, 4)", "(3, 5)"]),
    (((3, 4), (5, 4), (5, 6)), {"attn_mask": np.ones((3, 5), np.int64)}, TypeError,
     ["attn_mask", "int64"]),
    (((3, 4), (5, 4), (5, 6)), {"attn_mask": np.ones((3, 5), bool), "is_causal": True},
     ValueError, ["attn_mask", "is_causal"]),
    (((3, 4), (5, 4), (5, 6)), {"dropout_p": 1.5}, ValueError, ["dropout", "1.5"]),
])
def test_sdpa_bad_input(args: tuple, kwargs: dict, exc: type, words: list) -> None:
    arrays = [np.zeros(shape) for shape in args]
    with pytest.raises(exc) as info:
        SDPA(*arrays, **kwargs)
    for word in words:
        assert word in str(info.value)


# ----------------------------------------------------------------- MultiheadAttention
def _as64(p: Optional[dlcore.Tensor]) -> Optional[np.ndarray]:
    return None if p is None else np.asarray(p.data, dtype=np.float64)


def _mha_reference(m: nn.MultiheadAttention, query: np.ndarray, key: np.ndarray,
                   value: np.ndarray, **masks: Any) -> tuple:
    """The reference on the module's parameters, in the module's own layout."""
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if masks.get("key_padding_mask") is not None:
            masks["key_padding_mask"] = masks["key_padding_mask"][None]
    elif m.batch_first:
        query, key, value = (np.swapaxes(a, 0, 1) for a in (query, key, value))
    E = m.embed_dim
    if m._qkv_same_embed_dim:
        w_q, w_k, w_v = np.split(_as64(m.in_proj_weight), 3)
    else:
        w_q, w_k, w_v = (_as64(p) for p in (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight))
    extra = {}
    if m.bias_k is not None:
        extra = {"bias_k": _as64(m.bias_k).reshape(E), "bias_v": _as64(m.bias_v).reshape(E)}
    out, weights = ref.multi_head_attention(
        query, key, value, m.num_heads, w_q, w_k, w_v, _as64(m.in_proj_bias),
        _as64(m.out_proj.weight), _as64(m.out_proj.bias), add_zero_attn=m.add_zero_attn,
        **extra, **masks)
    if unbatched:
        return out[:, 0], weights[0]
    return (np.swapaxes(out, 0, 1) if m.batch_first else out), weights


def _randomise(m: nn.Module, seed: int) -> None:
    """Non-zero biases too, so a bias that is ignored would show."""
    r = rng(seed)
    for p in m.parameters():
        p.data[...] = r.standard_normal(p.shape) * 0.5


MHA_CASES = [
    dict(E=4, H=1),
    dict(E=4, H=2),
    dict(E=8, H=4),
    dict(E=8, H=4, batch_first=True),
    dict(E=6, H=2, kdim=3, vdim=5),
    dict(E=6, H=3, kdim=6, vdim=2, batch_first=True),
    dict(E=4, H=2, bias=False),
    dict(E=4, H=2, add_bias_kv=True),
    dict(E=4, H=2, add_zero_attn=True),
    dict(E=4, H=2, add_bias_kv=True, add_zero_attn=True, kdim=3),
]
MASK_CASES = ["none", "attn_bool", "attn_float", "attn_3d", "kpm_bool", "kpm_float", "both"]


def _make_masks(kind: str, r: np.random.Generator, N: int, H: int, L: int, S: int) -> dict:
    padding = r.random((N, S)) < 0.3
    padding[:, 0] = False
    blocked = r.random((L, S)) < 0.3
    blocked[:, 0] = False
    return {
        "none": {},
        "attn_bool": {"attn_mask": blocked},
        "attn_float": {"attn_mask": r.standard_normal((L, S))},
        "attn_3d": {"attn_mask": r.standard_normal((N * H, L, S))},
        "kpm_bool": {"key_padding_mask": padding},
        "kpm_float": {"key_padding_mask": r.standard_normal((N, S))},
        "both": {"attn_mask": blocked, "key_padding_mask": padding},
    }[kind]


@pytest.mark.parametrize("case", MHA_CASES, ids=lambda c: "-".join(f"{k}{v}"
                                                                   for k, v in c.items()))
@pytest.mark.parametrize("mask_kind", MASK_CASES)
@pytest.mark.parametrize("unbatched", [False, True])
def test_mha_forward_matches_reference(case: dict, mask_kind: str, unbatched: bool) -> None:
    case = dict(case)
    E, H = case.pop("E"), case.pop("H")
    m = nn.MultiheadAttention(E, H, dtype=np.float64, **case)
    _randomise(m, 0)
    L, S, N = 3, 4, 2
    r = rng(1)
    shape = (lambda T: (T, E)) if unbatched else (
        (lambda T: (N, T, E)) if m.batch_first else (lambda T: (T, N, E)))
    query = r.standard_normal(shape(L))
    key = r.standard_normal(shape(S)[:-1] + (m.kdim,))
    value = r.standard_normal(shape(S)[:-1] + (m.vdim,))
    masks = _make_masks(mask_kind, r, 1 if unbatched else N, H, L, S)
    if unbatched and "key_padding_mask" in masks:
        masks["key_padding_mask"] = masks["key_padding_mask"][0]
    want_out, want_w = _mha_reference(m, query, key, value, **masks)
    out, weights = m(query, key, value, average_attn_weights=False, **masks)
    assert out.shape == query.shape[:-1] + (E,)
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), want_w, rtol=1e-10, atol=1e-12)
    out2, averaged = m(query, key, value, **masks)
    np.testing.assert_allclose(averaged.numpy(), want_w.mean(axis=-3), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(out2.numpy(), out.numpy())
    out3, none = m(query, key, value, need_weights=False, **masks)
    assert none is None
    np.testing.assert_allclose(out3.numpy(), want_out, rtol=1e-10, atol=1e-12)


def test_mha_float32_default() -> None:
    m = nn.MultiheadAttention(8, 2)
    assert m.in_proj_weight.dtype == np.float32
    x = rng(2).standard_normal((5, 3, 8))
    out, weights = m(x, x, x)
    assert out.dtype == np.float32
    want_out, want_w = _mha_reference(m, x, x, x)
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.numpy(), want_w.mean(axis=1), rtol=1e-4, atol=1e-5)


def test_mha_is_causal_without_mask_is_the_causal_mask() -> None:
    m = nn.MultiheadAttention(4, 2, dtype=np.float64)
    _randomise(m, 3)
    x = rng(4).standard_normal((5, 2, 4))
    blocked = np.triu(np.ones((5, 5), dtype=bool), 1)
    out, w = m(x, x, x, is_causal=True)
    want, want_w = m(x, x, x, attn_mask=blocked)
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    np.testing.assert_array_equal(w.numpy(), want_w.numpy())
    assert np.all(w.numpy()[:, blocked] == 0)
    # With a mask, is_causal is only a hint (PyTorch's meaning): the mask decides.
    hinted, _ = m(x, x, x, attn_mask=np.zeros((5, 5), dtype=bool), is_causal=True)
    np.testing.assert_allclose(hinted.numpy(), m(x, x, x)[0].numpy(), rtol=1e-12)


def test_mha_fully_padded_sequence_gives_zeros_not_nan() -> None:
    m = nn.MultiheadAttention(4, 2, dtype=np.float64)
    _randomise(m, 5)
    x = dlcore.tensor(rng(6).standard_normal((3, 2, 4)), requires_grad=True)
    padding = np.array([[False, True, False], [True, True, True]])
    out, w = m(x, x, x, key_padding_mask=padding)
    np.testing.assert_array_equal(w.numpy()[1], 0.0)
    # No key left: the output is out_proj of zeros, i.e. its bias.
    np.testing.assert_allclose(out.numpy()[:, 1], np.broadcast_to(m.out_proj.bias.numpy(),
                                                                  (3, 4)))
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert all(np.isfinite(p.grad.numpy()).all() for p in m.parameters())


def _gradcheck_module(m: nn.Module, forward: Any, inputs: list) -> None:
    """Gradcheck ``forward(*inputs)`` with respect to the inputs and every parameter of ``m``,
    by placing gradcheck's leaves in the module's parameter registries."""
    names = [name for name, _ in m.named_parameters()]
    owners = []
    for name in names:
        *path, leaf = name.split(".")
        owner = m
        for part in path:
            owner = getattr(owner, part)
        owners.append((owner, leaf))
    originals = [p.data.copy() for p in m.parameters()]

    def f(*args: dlcore.Tensor) -> dlcore.Tensor:
        for (owner, leaf), tensor in zip(owners, args[len(inputs):]):
            owner._parameters[leaf] = tensor
        return forward(*args[:len(inputs)])

    assert gradcheck(f, list(inputs) + originals, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kwargs,mask_kind", [
    ({}, "both"),
    ({"kdim": 3, "vdim": 2, "add_bias_kv": True}, "kpm_bool"),
    ({"add_zero_attn": True, "batch_first": True}, "attn_float"),
])
def test_mha_gradients_of_inputs_and_parameters(kwargs: dict, mask_kind: str) -> None:
    m = nn.MultiheadAttention(4, 2, dtype=np.float64, **kwargs)
    _randomise(m, 7)
    r = rng(8)
    L, S, N = 3, 2, 2
    lead = (lambda T: (N, T)) if m.batch_first else (lambda T: (T, N))
    query = r.standard_normal(lead(L) + (4,))
    key = r.standard_normal(lead(S) + (m.kdim,))
    value = r.standard_normal(lead(S) + (m.vdim,))
    masks = _make_masks(mask_kind, r, N, 2, L, S)
    _gradcheck_module(m, lambda q, k, v: m(q, k, v, average_attn_weights=False, **masks)[0],
                      [query, key, value])
    _gradcheck_module(m, lambda q, k, v: m(q, k, v, average_attn_weights=False, **masks)[1],
                      [query, key, value])


def test_mha_state_dict_and_init_follow_pytorch() -> None:
    E = 8
    m = nn.MultiheadAttention(E, 2)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        ("in_proj_weight", (3 * E, E)), ("in_proj_bias", (3 * E,)),
        ("out_proj.weight", (E, E)), ("out_proj.bias", (E,))]
    m = nn.MultiheadAttention(E, 4, kdim=3, vdim=5, add_bias_kv=True)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        ("q_proj_weight", (E, E)), ("k_proj_weight", (E, 3)), ("v_proj_weight", (E, 5)),
        ("in_proj_bias", (3 * E,)), ("bias_k", (1, 1, E)), ("bias_v", (1, 1, E)),
        ("out_proj.weight", (E, E)), ("out_proj.bias", (E,))]
    assert m.in_proj_weight is None and m.head_dim == 2
    assert list(nn.MultiheadAttention(E, 2, bias=False).state_dict()) == [
        "in_proj_weight", "out_proj.weight"]
    assert isinstance(m.out_proj, nn.Linear)

    dlcore.manual_seed(0)
    m = nn.MultiheadAttention(64, 4)
    w = m.in_proj_weight.numpy()
    bound = math.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) matrix
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0.0)
    assert np.abs(m.out_proj.weight.numpy()).max() <= 1 / math.sqrt(64)


def test_mha_eval_disables_dropout() -> None:
    m = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=np.float64)
    x = rng(9).standard_normal((6, 3, 8))
    dlcore.manual_seed(1)
    train_out, train_w = m(x, x, x)
    m.eval()
    out1, w1 = m(x, x, x)
    out2, _ = m(x, x, x)
    np.testing.assert_array_equal(out1.numpy(), out2.numpy())
    want_out, want_w = _mha_reference(m, x, x, x)
    np.testing.assert_allclose(out1.numpy(), want_out, rtol=1e-10, atol=1e-12)
    assert not np.allclose(train_out.numpy(), out1.numpy())
    # The weights returned in training are the dropped ones (PyTorch's): zeros or 2x.
    per_head = m(x, x, x, average_attn_weights=False)[1].numpy()
    m.train()
    dlcore.manual_seed(1)
    dropped = m(x, x, x, average_attn_weights=False)[1].numpy()
    kept = dropped != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(dropped[kept], 2 * per_head[kept], rtol=1e-10)


@pytest.mark.parametrize("build,words", [
    (lambda: nn.MultiheadAttention(10, 3), ["embed_dim 10", "num_heads 3"]),
    (lambda: nn.MultiheadAttention(8, 0), ["num_heads", "0"]),
    (lambda: nn.MultiheadAttention(8, 2, dropout=2.0), ["dropout", "2.0"]),
    (lambda: nn.MultiheadAttention(8, 2, kdim=-1), ["kdim", "-1"]),
])
def test_mha_bad_construction(build: Any, words: list) -> None:
    with pytest.raises(ValueError) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("shapes,kwargs,words", [
    (((3, 2, 8), (4, 2, 8), (4, 2, 8)), {"attn_mask": np.zeros((3, 3), bool)},
     ["attn_mask has shape (3, 3)", "(3, 4)", "(8, 3, 4)"]),
    (((3, 2, 8), (4, 2, 8), (4, 2, 8)), {"key_padding_mask": np.zeros((2, 3), bool)},
     ["key_padding_mask has shape (2, 3)", "(2, 4)"]),
    (((3, 2, 6), (4, 2, 8), (4, 2, 8)), {}, ["(3, 2, 6)", "embed_dim is 8"]),
    (((3, 2, 1, 8), (4, 2, 8), (4, 2, 8)), {}, ["query", "(3, 2, 1, 8)"]),
    (((3, 2, 8), (4, 8), (4, 8)), {}, ["key", "(4, 8)"]),
    (((3, 2, 8), (4, 2, 8), (5, 2, 8)), {}, ["key (4, 2, 8)", "value (5, 2, 8)"]),
    (((3, 2, 8), (4, 3, 8), (4, 3, 8)), {}, ["batch size 3", "(3, 2, 8)"]),
    (((3, 2, 8), (4, 2, 7), (4, 2, 8)), {}, ["(4, 2, 7)", "8"]),
])
def test_mha_bad_input(shapes: tuple, kwargs: dict, words: list) -> None:
    m = nn.MultiheadAttention(8, 4)
    with pytest.raises(ValueError) as info:
        m(*(np.zeros(s) for s in shapes), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_mha_mask_dtype_is_checked() -> None:
    m = nn.MultiheadAttention(4, 2)
    x = np.zeros((3, 1, 4))
    with pytest.raises(TypeError, match="key_padding_mask.*int64"):
        m(x, x, x, key_padding_mask=np.zeros((1, 3), dtype=np.int64))


# ----------------------------------------------------------------- Transformer encoder
def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _encoder_layer_reference(layer: nn.TransformerEncoderLayer, x: np.ndarray,
                             act: Any, **masks: Any) -> np.ndarray:
    def sa(h: np.ndarray) -> np.ndarray:
        return _mha_reference(layer.self_attn, h, h, h, **masks)[0]

    def ff(h: np.ndarray) -> np.ndarray:
        hidden = act(h @ _as64(layer.linear1.weight).T + _as64(layer.linear1.bias))
        return hidden @ _as64(layer.linear2.weight).T + _as64(layer.linear2.bias)

    def norm(n: nn.LayerNorm, h: np.ndarray) -> np.ndarray:
        return _layer_norm(h, _as64(n.weight), _as64(n.bias), n.eps)

    if layer.norm_first:
        x = x + sa(norm(layer.norm1, x))
        return x + ff(norm(layer.norm2, x))
    x = norm(layer.norm1, x + sa(x))
    return norm(layer.norm2, x + ff(x))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
def test_encoder_layer_matches_reference(norm_first: bool, batch_first: bool,
                                         activation: str) -> None:
    act = {"relu": "relu", "gelu": "gelu", "callable": lambda t: t.tanh()}[activation]
    np_act = {"relu": lambda a: np.maximum(a, 0), "gelu": _gelu, "callable": np.tanh}[activation]
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.3,
                                       activation=act, layer_norm_eps=1e-3,
                                       batch_first=batch_first, norm_first=norm_first,
                                       dtype=np.float64)
    _randomise(layer, 10)
    layer.eval()
    r = rng(11)
    x = r.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    blocked = np.triu(np.ones((5, 5), dtype=bool), 1)
    got = layer(x, src_mask=blocked, src_key_padding_mask=padding)
    want = _encoder_layer_reference(layer, x, np_act, attn_mask=blocked,
                                    key_padding_mask=padding)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)
    causal = layer(x, src_key_padding_mask=padding, is_causal=True)
    np.testing.assert_allclose(causal.numpy(), want, rtol=1e-9, atol=1e-10)
    unbatched = layer(x[0] if batch_first else x[:, 0])
    want_unbatched = _encoder_layer_reference(layer, x[0] if batch_first else x[:, 0], np_act)
    np.testing.assert_allclose(unbatched.numpy(), want_unbatched, rtol=1e-9, atol=1e-10)


def test_encoder_layer_names_dropout_and_options() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"]
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
        ("self_attn.in_proj_weight", (24, 8)), ("self_attn.in_proj_bias", (24,)),
        ("self_attn.out_proj.weight", (8, 8)), ("self_attn.out_proj.bias", (8,)),
        ("linear1.weight", (16, 8)), ("linear1.bias", (16,)),
        ("linear2.weight", (8, 16)), ("linear2.bias", (8,)),
        ("norm1.weight", (8,)), ("norm1.bias", (8,)),
        ("norm2.weight", (8,)), ("norm2.bias", (8,))]
    assert layer.self_attn.dropout == 0.1 and layer.dropout.p == 0.1
    no_bias = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, bias=False)
    assert not any(name.endswith("bias") for name in no_bias.state_dict())
    x = rng(12).standard_normal((4, 3, 8))
    dlcore.manual_seed(0)
    a = layer(x).numpy()
    b = layer(x).numpy()
    assert not np.allclose(a, b)  # dropout is on while training
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    with pytest.raises(ValueError, match="'swish'"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="embed_dim 8 must be divisible by num_heads 3"):
        nn.TransformerEncoderLayer(8, 3)
    with_module = nn.TransformerEncoderLayer(8, 2, 16, activation=nn.PReLU())
    assert "activation.weight" in with_module.state_dict()


def test_encoder_layer_gradients() -> None:
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0,
                                       activation="gelu", dtype=np.float64)
    _randomise(layer, 13)
    x = rng(14).standard_normal((3, 2, 4))
    padding = np.array([[False, False, True], [False, False, False]])
    _gradcheck_module(layer, lambda t: layer(t, src_key_padding_mask=padding), [x])


def test_encoder_copies_the_layer() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=np.float64)
    encoder = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(8, dtype=np.float64))
    keys = list(encoder.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight"
    assert keys[-2:] == ["norm.weight", "norm.bias"]
    assert len(keys) == 3 * 12 + 2
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), layer.linear1.weight.numpy())
    first.linear1.weight.data += 1.0
    assert not np.allclose(first.linear1.weight.numpy(), second.linear1.weight.numpy())

    encoder.eval()
    x = rng(15).standard_normal((5, 2, 8))
    blocked = np.triu(np.ones((5, 5), dtype=bool), 1)
    want = x
    for sub in encoder.layers:
        want = sub(want, src_mask=blocked).numpy()
    want = encoder.norm(want).numpy()
    np.testing.assert_allclose(encoder(x, mask=blocked).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(encoder(x, is_causal=True).numpy(), want, rtol=1e-12)
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(layer, -1)


class _SequenceMax(nn.Module):
    """Embedding, one encoder layer and a classifier per position over the vocabulary. No
    positional encoding: the answer does not depend on order."""

    def __init__(self, vocab: int, d_model: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        layer = nn.TransformerEncoderLayer(d_model, 2, dim_feedforward=32, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1)
        self.classify = nn.Linear(d_model, vocab)

    def forward(self, tokens: Any) -> dlcore.Tensor:
        return self.classify(self.encoder(self.embed(tokens)))


def test_tiny_transformer_learns_each_sequences_max_token() -> None:
    """Every position must output the largest token of its sequence: only attention can
    bring that in, since a position sees nothing but its own token otherwise."""
    dlcore.manual_seed(0)
    r = rng(16)
    vocab, L = 10, 6

    def batch(n: int) -> tuple:
        tokens = r.integers(0, vocab, (n, L))
        return tokens, np.repeat(tokens.max(axis=1, keepdims=True), L, axis=1)

    model = _SequenceMax(vocab, 16)
    optimizer = dlcore.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(300):
        tokens, target = batch(64)
        loss = F.cross_entropy(model(tokens).reshape(-1, vocab), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    tokens, target = batch(500)
    accuracy = (model(tokens).numpy().argmax(axis=-1) == target).mean()
    # The best a position could do from its own token alone (fitted on the test data).
    own_token_only = sum(np.bincount(target[tokens == t]).max()
                         for t in np.unique(tokens)) / target.size
    assert own_token_only < 0.6
    assert accuracy > 0.95, f"accuracy {accuracy} (own token only: {own_token_only:.2f})"
    assert time.perf_counter() - start < 30
