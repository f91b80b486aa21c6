"""The fused input projections of multi-head attention (python/dlcore/nn/ops/multihead.py).

``query is key is value`` is projected by one GEMM with the packed ``in_proj_weight (3E, E)``
and ``key is value`` by one for ``q`` and one for ``k`` and ``v`` together, as PyTorch does.
Passing equal-valued copies instead of the same object takes the separate projections, so
each fused result is compared with that run: outputs, weights and every gradient (the input's
gradient is the sum of its copies'), in float64, to rounding.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest
from helpers import rng
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.nn.ops import multihead
from dlcore.reference import attention as ref

TIGHT = dict(rtol=1e-10, atol=1e-12)


def _module(E: int, H: int, seed: int, **kwargs: Any) -> nn.MultiheadAttention:
    m = nn.MultiheadAttention(E, H, dtype=np.float64, **kwargs)
    r = rng(seed)
    for p in m.parameters():  # non-zero biases too, so a dropped bias slice would show
        p.data[...] = r.standard_normal(p.shape) * 0.5
    return m


def _masks(kind: str, r: np.random.Generator, N: int, H: int, L: int, S: int) -> dict:
    padding = r.random((N, S)) < 0.3
    padding[:, 0] = False
    blocked = r.random((L, S)) < 0.3
    blocked[:, 0] = False
    return {
        "none": {},
        "attn_bool": {"attn_mask": blocked},
        "attn_3d_float": {"attn_mask": r.standard_normal((N * H, L, S))},
        "kpm_bool": {"key_padding_mask": padding},
        "both": {"attn_mask": blocked, "key_padding_mask": padding},
        "causal": {"is_causal": True},
    }[kind]


def _run(m: nn.MultiheadAttention, arrays: List[np.ndarray], slots: Tuple[int, int, int],
         seed: int, **kwargs: Any) -> Dict[str, Any]:
    """``m(*inputs)`` where ``slots`` says which of ``arrays`` feeds query, key and value (a
    repeated index passes the same Tensor object); its output, weights and gradients."""
    inputs = [dlcore.tensor(a.copy(), requires_grad=True) for a in arrays]
    m.zero_grad()
    out, weights = m(*(inputs[i] for i in slots), **kwargs)
    loss = (out * dlcore.tensor(rng(seed).standard_normal(out.shape))).sum()
    if weights is not None:
        loss = loss + (weights * dlcore.tensor(rng(seed + 1).standard_normal(weights.shape))
                       ).sum()
    loss.backward()
    return {"out": out.numpy(), "weights": None if weights is None else weights.numpy(),
            "inputs": [t.grad.numpy() for t in inputs],
            "params": {name: p.grad.numpy().copy() for name, p in m.named_parameters()}}


def _assert_same(fused: Dict[str, Any], separate: Dict[str, Any],
                 copies: List[List[int]]) -> None:
    """Equal outputs and parameter gradients; input ``i`` of the fused run has the summed
    gradient of the separate run's inputs ``copies[i]``."""
    np.testing.assert_allclose(fused["out"], separate["out"], **TIGHT)
    if separate["weights"] is None:
        assert fused["weights"] is None
    else:
        np.testing.assert_allclose(fused["weights"], separate["weights"], **TIGHT)
    assert fused["params"].keys() == separate["params"].keys()
    for name, grad in separate["params"].items():
        np.testing.assert_allclose(fused["params"][name], grad, **TIGHT, err_msg=name)
    for i, group in enumerate(copies):
        want = sum(separate["inputs"][j] for j in group)
        np.testing.assert_allclose(fused["inputs"][i], want, **TIGHT)


def _arrays(m: nn.MultiheadAttention, L: int, S: int, N: int, unbatched: bool,
            seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """A query ``(L, N, E)`` and a memory ``(S, N, E)`` in the module's layout."""
    r = rng(seed)
    def shape(T: int) -> tuple:
        if unbatched:
            return (T, m.embed_dim)
        return (N, T, m.embed_dim) if m.batch_first else (T, N, m.embed_dim)
    return r.standard_normal(shape(L)), r.standard_normal(shape(S))


CASES = [
    dict(),
    dict(batch_first=True),
    dict(add_bias_kv=True),
    dict(add_zero_attn=True, batch_first=True),
    dict(add_bias_kv=True, add_zero_attn=True),
    dict(bias=False),
]
CALLS = [
    dict(mask="none", need_weights=True, average_attn_weights=True),
    dict(mask="both", need_weights=True, average_attn_weights=False),
    dict(mask="attn_3d_float", need_weights=False),
    dict(mask="kpm_bool", need_weights=True, unbatched=True),
    dict(mask="causal", need_weights=False),
]


def _case_id(d: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in d.items()) or "default"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("call", CALLS, ids=_case_id)
def test_self_attention_fused_equals_separate(case: dict, call: dict) -> None:
    call = dict(call)
    mask, unbatched = call.pop("mask"), call.pop("unbatched", False)
    if unbatched and mask == "attn_3d_float":
        pytest.fail("no unbatched 3-D mask case")  # guards the table above
    m = _module(8, 2, 0, **case)
    L, N = 5, 3
    x, _ = _arrays(m, L, L, N, unbatched, 1)
    masks = _masks(mask, rng(2), 1 if unbatched else N, 2, L, L)
    if unbatched and "key_padding_mask" in masks:
        masks["key_padding_mask"] = masks["key_padding_mask"][0]
    kwargs = {**masks, **call}
    fused = _run(m, [x], (0, 0, 0), 3, **kwargs)
    separate = _run(m, [x, x, x], (0, 1, 2), 3, **kwargs)
    _assert_same(fused, separate, [[0, 1, 2]])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("call", CALLS, ids=_case_id)
def test_key_is_value_fused_equals_separate(case: dict, call: dict) -> None:
    call = dict(call)
    mask, unbatched = call.pop("mask"), call.pop("unbatched", False)
    m = _module(8, 4, 4, **case)
    L, S, N = 3, 6, 2
    q, mem = _arrays(m, L, S, N, unbatched, 5)
    masks = _masks(mask, rng(6), 1 if unbatched else N, 4, L, S)
    if unbatched and "key_padding_mask" in masks:
        masks["key_padding_mask"] = masks["key_padding_mask"][0]
    kwargs = {**masks, **call}
    fused = _run(m, [q, mem], (0, 1, 1), 7, **kwargs)
    separate = _run(m, [q, mem, mem], (0, 1, 2), 7, **kwargs)
    _assert_same(fused, separate, [[0], [1, 2]])


@pytest.mark.parametrize("case", CASES + [dict(kdim=3, vdim=5), dict(kdim=8, vdim=2)],
                         ids=_case_id)
def test_distinct_inputs_match_the_reference(case: dict) -> None:
    """Three different tensors (and kdim/vdim != embed_dim) take three projections; their
    result is checked against the NumPy reference, written one head at a time."""
    m = _module(8, 2, 8, **case)
    r = rng(9)
    L, S, N = 4, 3, 2
    lead = (lambda T: (N, T)) if m.batch_first else (lambda T: (T, N))
    q = r.standard_normal(lead(L) + (8,))
    k = r.standard_normal(lead(S) + (m.kdim,))
    v = r.standard_normal(lead(S) + (m.vdim,))
    masks = _masks("both", r, N, 2, L, S)
    out, weights = m(q, k, v, average_attn_weights=False, **masks)
    seq = (lambda a: np.swapaxes(a, 0, 1)) if m.batch_first else (lambda a: a)
    if m._qkv_same_embed_dim:
        w_q, w_k, w_v = np.split(m.in_proj_weight.numpy(), 3)
    else:
        w_q, w_k, w_v = (p.numpy() for p in (m.q_proj_weight, m.k_proj_weight,
                                             m.v_proj_weight))
    extra = {}
    if m.bias_k is not None:
        extra = {"bias_k": m.bias_k.numpy().reshape(8), "bias_v": m.bias_v.numpy().reshape(8)}
    b_in = None if m.in_proj_bias is None else m.in_proj_bias.numpy()
    b_out = None if m.out_proj.bias is None else m.out_proj.bias.numpy()
    want, want_w = ref.multi_head_attention(
        seq(q), seq(k), seq(v), 2, w_q, w_k, w_v, b_in, m.out_proj.weight.numpy(), b_out,
        add_zero_attn=m.add_zero_attn, **extra, **masks)
    np.testing.assert_allclose(out.numpy(), seq(want), **TIGHT)
    np.testing.assert_allclose(weights.numpy(), want_w, **TIGHT)


def _projection_shapes(run: Callable[[], Any]) -> List[tuple]:
    """The output shapes of every ``linear`` multi_head_attention_forward makes in ``run``."""
    shapes: List[tuple] = []
    original = multihead.linear

    def counting(*args: Any) -> dlcore.Tensor:
        out = original(*args)
        shapes.append(out.shape)
        return out

    multihead.linear = counting
    try:
        run()
    finally:
        multihead.linear = original
    return shapes


@pytest.mark.parametrize("batch_first", [False, True])
def test_shared_inputs_are_projected_by_one_gemm(batch_first: bool) -> None:
    """The fused paths are really taken (batch_first transposes a shared input once): the
    linears are in-proj(s) then out_proj."""
    m = _module(8, 2, 10, batch_first=batch_first)
    L, S, N = 5, 4, 3
    x = dlcore.tensor(rng(11).standard_normal((N, L, 8) if batch_first else (L, N, 8)))
    y = dlcore.tensor(rng(12).standard_normal((N, S, 8) if batch_first else (S, N, 8)))
    assert _projection_shapes(lambda: m(x, x, x)) == [(L, N, 24), (L, N, 8)]
    assert _projection_shapes(lambda: m(x, y, y)) == [(L, N, 8), (S, N, 16), (L, N, 8)]
    separate = [(L, N, 8), (S, N, 8), (S, N, 8), (L, N, 8)]
    assert _projection_shapes(lambda: m(x, y, y.clone())) == separate
    # query is key but value differs: PyTorch projects separately too.
    x2 = x.clone()
    assert _projection_shapes(lambda: m(x, x, x2)) == [(L, N, 8)] * 4
    # Separate projection weights are never fused.
    s = _module(8, 2, 13, kdim=8, vdim=4, batch_first=batch_first)
    z = dlcore.tensor(rng(14).standard_normal(x.shape[:-1] + (4,)))
    assert _projection_shapes(lambda: s(x, x, z)) == [(L, N, 8)] * 4
    # Unbatched input keeps the fusion.
    u = dlcore.tensor(rng(15).standard_normal((L, 8)))
    assert _projection_shapes(lambda: m(u, u, u)) == [(L, 1, 24), (L, 1, 8)]


def test_fused_projection_gradient_is_one_dense_buffer() -> None:
    """The backward of the three slices reaches the fused linear as one ``(L, N, 3E)`` array
    holding each slice's gradient in its own third."""
    m = _module(6, 3, 15)
    x = dlcore.tensor(rng(16).standard_normal((4, 2, 6)), requires_grad=True)
    kept: List[dlcore.Tensor] = []
    original = multihead.linear

    def keeping(*args: Any) -> dlcore.Tensor:
        out = original(*args)
        out.retain_grad()
        kept.append(out)
        return out

    multihead.linear = keeping
    try:
        out, _ = m(x, x, x, need_weights=False)
    finally:
        multihead.linear = original
    out.sum().backward()
    fused = kept[0]
    assert fused.shape == (4, 2, 18)
    assert isinstance(fused.grad.numpy(), np.ndarray) and fused.grad.shape == (4, 2, 18)
    # Each third is a projection's gradient: none of them is left at zero.
    for third in np.split(fused.grad.numpy(), 3, axis=-1):
        assert np.abs(third).max() > 1e-6


def _gradcheck_params(m: nn.Module, forward: Callable[..., dlcore.Tensor],
                      inputs: List[np.ndarray]) -> None:
    """Gradcheck ``forward(*inputs)`` in the inputs and in every parameter of ``m``."""
    names = [name for name, _ in m.named_parameters()]
    originals = [p.data.copy() for p in m.parameters()]

    def f(*args: dlcore.Tensor) -> dlcore.Tensor:
        for name, tensor in zip(names, args[len(inputs):]):
            owner = m
            *path, leaf = name.split(".")
            for part in path:
                owner = getattr(owner, part)
            owner._parameters[leaf] = tensor
        return forward(*args[:len(inputs)])

    assert gradcheck(f, list(inputs) + originals, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kwargs", [dict(), dict(add_bias_kv=True, add_zero_attn=True),
                                    dict(batch_first=True)], ids=_case_id)
def test_gradcheck_through_the_fused_paths(kwargs: dict) -> None:
    m = _module(4, 2, 17, **kwargs)
    r = rng(18)
    L, S, N = 3, 2, 2
    x = r.standard_normal((N, L, 4) if m.batch_first else (L, N, 4))
    mem = r.standard_normal((N, S, 4) if m.batch_first else (S, N, 4))
    masks = {"key_padding_mask": np.array([[False, True, False], [False, False, True]])}
    _gradcheck_params(m, lambda t: m(t, t, t, average_attn_weights=False, **masks)[0], [x])
    _gradcheck_params(m, lambda t: m(t, t, t, average_attn_weights=False, **masks)[1], [x])
    _gradcheck_params(m, lambda q, t: m(q, t, t)[0], [x, mem])


def test_functional_fuses_arrays_and_integer_input() -> None:
    """``F.multi_head_attention_forward`` decides on the objects passed: one NumPy array
    (integers included: they are converted once) is fused as a Tensor is."""
    E, H = 4, 2
    r = rng(19)
    w_in, b_in = r.standard_normal((3 * E, E)), r.standard_normal(3 * E)
    w_out, b_out = r.standard_normal((E, E)), r.standard_normal(E)
    x = r.standard_normal((3, 2, E))

    def call(q: Any, k: Any, v: Any) -> Tuple[dlcore.Tensor, dlcore.Tensor]:
        return F.multi_head_attention_forward(q, k, v, E, H, w_in, b_in, None, None, False,
                                              0.0, w_out, b_out, training=False)

    fused_out, fused_w = call(x, x, x)
    sep_out, sep_w = call(x, x.copy(), x.copy())
    np.testing.assert_allclose(fused_out.numpy(), sep_out.numpy(), **TIGHT)
    np.testing.assert_allclose(fused_w.numpy(), sep_w.numpy(), **TIGHT)
    ints = r.integers(-3, 4, size=(3, 2, E))
    assert _projection_shapes(lambda: call(ints, ints, ints))[0] == (3, 2, 3 * E)
    int_out, _ = call(ints, ints, ints)
    floats = ints.astype(np.float64)
    want, _ = call(floats, floats.copy(), floats.copy())
    np.testing.assert_allclose(int_out.numpy(), want.numpy(), **TIGHT)


def test_fused_dropout_draws_the_same_mask() -> None:
    """The projections draw no random numbers, so the dropout mask under one seed is the
    same whichever path projected."""
    m = _module(8, 2, 20, dropout=0.4)
    x = rng(21).standard_normal((4, 2, 8))
    dlcore.manual_seed(5)
    fused = _run(m, [x], (0, 0, 0), 22)
    dlcore.manual_seed(5)
    separate = _run(m, [x, x, x], (0, 1, 2), 22)
    _assert_same(fused, separate, [[0, 1, 2]])


def test_encoder_layer_gradients_equal_the_separate_projections() -> None:
    """TransformerEncoderLayer's self-attention is fused; its gradients are those of the
    separate projections."""
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                       batch_first=True, dtype=np.float64)
    x = rng(23).standard_normal((2, 5, 8))
    original = multihead._packed_projections

    def never_fused(q: Any, k: Any, v: Any, w: Any, b: Any, E: int, same_qkv: bool,
                    same_kv: bool) -> Any:
        return original(q, k, v, w, b, E, False, False)

    def gradients() -> List[np.ndarray]:
        t = dlcore.tensor(x, requires_grad=True)
        layer.zero_grad()
        out = layer(t)
        (out * out).sum().backward()
        return [t.grad.numpy()] + [p.grad.numpy().copy() for p in layer.parameters()]

    assert _projection_shapes(lambda: layer(dlcore.tensor(x)))[0] == (5, 2, 24)
    fused = gradients()
    multihead._packed_projections = never_fused
    try:
        assert _projection_shapes(lambda: layer(dlcore.tensor(x)))[0] == (5, 2, 8)
        separate = gradients()
    finally:
        multihead._packed_projections = original
    for got, want in zip(fused, separate):
        np.testing.assert_allclose(got, want, **TIGHT)


@settings(max_examples=25, deadline=None)
@given(L=st.integers(1, 5), S=st.integers(1, 4), N=st.integers(1, 3),
       H=st.sampled_from([1, 2, 3]), hd=st.integers(1, 3), batch_first=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fused_equals_separate_for_any_shape(L: int, S: int, N: int, H: int, hd: int,
                                             batch_first: bool, seed: int) -> None:
    m = _module(H * hd, H, seed, batch_first=batch_first)
    q, mem = _arrays(m, L, S, N, False, seed + 1)
    fused = _run(m, [q], (0, 0, 0), seed + 2)
    separate = _run(m, [q, q, q], (0, 1, 2), seed + 2)
    _assert_same(fused, separate, [[0, 1, 2]])
    fused = _run(m, [q, mem], (0, 1, 1), seed + 3)
    separate = _run(m, [q, mem, mem], (0, 1, 2), seed + 3)
    _assert_same(fused, separate, [[0], [1, 2]])
