"""TransformerDecoderLayer, TransformerDecoder, Transformer and CosineSimilarity, against NumPy
references built from dlcore.reference.attention (float64) and finite differences."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st
from test_attention import (
    _as64,
    _encoder_layer_reference,
    _gelu,
    _gradcheck_module,
    _layer_norm,
    _mha_reference,
    _randomise,
)

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RELU: Callable[[np.ndarray], np.ndarray] = lambda a: np.maximum(a, 0)  # noqa: E731


# ----------------------------------------------------------------- reference
def _decoder_layer_reference(layer: nn.TransformerDecoderLayer, tgt: np.ndarray,
                             memory: np.ndarray, act: Callable[[np.ndarray], np.ndarray],
                             tgt_masks: dict, memory_masks: dict) -> np.ndarray:
    """The decoder layer from PyTorch's equations, in the layer's own layout, without
    dropout; the attentions are ``reference.attention.multi_head_attention``."""
    def sa(h: np.ndarray) -> np.ndarray:
        return _mha_reference(layer.self_attn, h, h, h, **dict(tgt_masks))[0]

    def ca(h: np.ndarray) -> np.ndarray:
        return _mha_reference(layer.multihead_attn, h, memory, memory, **dict(memory_masks))[0]

    def ff(h: np.ndarray) -> np.ndarray:
        hidden = act(h @ _as64(layer.linear1.weight).T + _as64(layer.linear1.bias))
        return hidden @ _as64(layer.linear2.weight).T + _as64(layer.linear2.bias)

    def norm(n: nn.LayerNorm, h: np.ndarray) -> np.ndarray:
        return _layer_norm(h, _as64(n.weight), _as64(n.bias), n.eps)

    x = tgt
    if layer.norm_first:
        x = x + sa(norm(layer.norm1, x))
        x = x + ca(norm(layer.norm2, x))
        return x + ff(norm(layer.norm3, x))
    x = norm(layer.norm1, x + sa(x))
    x = norm(layer.norm2, x + ca(x))
    return norm(layer.norm3, x + ff(x))


def _layer(d_model: int = 8, nhead: int = 2, seed: int = 0, **kwargs: Any
           ) -> nn.TransformerDecoderLayer:
    kwargs.setdefault("dim_feedforward", 16)
    layer = nn.TransformerDecoderLayer(d_model, nhead, dtype=np.float64, **kwargs)
    _randomise(layer, seed)
    return layer.eval()


def _lead(batch_first: bool, N: int) -> Callable[[int], tuple]:
    return (lambda T: (N, T)) if batch_first else (lambda T: (T, N))


# ----------------------------------------------------------------- TransformerDecoderLayer
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
def test_decoder_layer_matches_reference(norm_first: bool, batch_first: bool,
                                         activation: str) -> None:
    act = {"relu": F.relu, "gelu": "gelu", "callable": lambda t: t.tanh()}[activation]
    np_act = {"relu": RELU, "gelu": _gelu, "callable": np.tanh}[activation]
    layer = _layer(seed=1, dropout=0.3, activation=act, layer_norm_eps=1e-3,
                   batch_first=batch_first, norm_first=norm_first)
    T, S, N = 4, 5, 2
    r = rng(2)
    lead = _lead(batch_first, N)
    tgt, memory = r.standard_normal(lead(T) + (8,)), r.standard_normal(lead(S) + (8,))
    causal = np.triu(np.ones((T, T), dtype=bool), 1)
    memory_mask = r.standard_normal((T, S))
    tgt_padding = np.array([[False] * T, [False, False, True, True]])
    memory_padding = np.array([[False, True, False, False, True], [False] * S])
    tgt_masks = {"attn_mask": causal, "key_padding_mask": tgt_padding}
    memory_masks = {"attn_mask": memory_mask, "key_padding_mask": memory_padding}
    want = _decoder_layer_reference(layer, tgt, memory, np_act, tgt_masks, memory_masks)
    got = layer(tgt, memory, tgt_mask=causal, memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding)
    assert got.shape == tgt.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)
    by_flag = layer(tgt, memory, memory_mask=memory_mask, tgt_key_padding_mask=tgt_padding,
                    memory_key_padding_mask=memory_padding, tgt_is_causal=True)
    np.testing.assert_allclose(by_flag.numpy(), want, rtol=1e-9, atol=1e-10)

    first = (lambda a: a[0]) if batch_first else (lambda a: a[:, 0])
    unbatched = layer(first(tgt), first(memory))
    want_unbatched = _decoder_layer_reference(layer, first(tgt), first(memory), np_act, {}, {})
    assert unbatched.shape == (T, 8)
    np.testing.assert_allclose(unbatched.numpy(), want_unbatched, rtol=1e-9, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 4), S=st.integers(0, 4), N=st.integers(1, 3),
       heads=st.sampled_from([1, 2, 4]), norm_first=st.booleans(),
       memory_is_causal=st.booleans(), seed=st.integers(0, 2**16))
def test_decoder_layer_matches_reference_for_any_shape(T: int, S: int, N: int, heads: int,
                                                       norm_first: bool,
                                                       memory_is_causal: bool,
                                                       seed: int) -> None:
    """Odd lengths, an empty memory (the cross-attention sees no key: a zero output) and the
    causal mask built from ``memory_is_causal`` over a ``(T, S)`` grid."""
    layer = _layer(4, heads, seed=seed, dim_feedforward=3, norm_first=norm_first)
    r = rng(seed + 1)
    tgt, memory = r.standard_normal((T, N, 4)), r.standard_normal((S, N, 4))
    memory_masks = {}
    if memory_is_causal:
        memory_masks["attn_mask"] = np.triu(np.ones((T, S), dtype=bool), 1)
    want = _decoder_layer_reference(layer, tgt, memory, RELU, {}, memory_masks)
    got = layer(tgt, memory, memory_is_causal=memory_is_causal)
    assert got.shape == (T, N, 4)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)


def test_decoder_layer_float32_default() -> None:
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16).eval()
    assert layer.linear1.weight.dtype == np.float32
    r = rng(3)
    tgt, memory = r.standard_normal((3, 2, 8)), r.standard_normal((4, 2, 8))
    got = layer(tgt, memory)
    assert got.dtype == np.float32
    want = _decoder_layer_reference(layer, tgt, memory, RELU, {}, {})
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)


def test_decoder_layer_is_causal_in_the_target() -> None:
    """With the causal mask, changing a later target token leaves earlier outputs alone (and
    without it, it does not)."""
    layer = _layer(seed=4)
    r = rng(5)
    tgt, memory = r.standard_normal((5, 2, 8)), r.standard_normal((3, 2, 8))
    changed = tgt.copy()
    changed[3] += 1.0
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=np.float64)
    a, b = (layer(t, memory, tgt_mask=mask).numpy() for t in (tgt, changed))
    np.testing.assert_array_equal(a[:3], b[:3])
    assert not np.allclose(a[3:], b[3:])
    a, b = (layer(t, memory).numpy() for t in (tgt, changed))
    assert not np.allclose(a[:3], b[:3])


def test_decoder_layer_names_and_options() -> None:
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
        "norm3", "dropout1", "dropout2", "dropout3"]
    attn = [("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)),
            ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == (
        [("self_attn." + k, s) for k, s in attn] + [("multihead_attn." + k, s) for k, s in attn]
        + [("linear1.weight", (16, 8)), ("linear1.bias", (16,)),
           ("linear2.weight", (8, 16)), ("linear2.bias", (8,)),
           ("norm1.weight", (8,)), ("norm1.bias", (8,)), ("norm2.weight", (8,)),
           ("norm2.bias", (8,)), ("norm3.weight", (8,)), ("norm3.bias", (8,))])
    assert layer.self_attn.dropout == 0.1 and layer.multihead_attn.dropout == 0.1
    assert all(d.p == 0.1 for d in (layer.dropout, layer.dropout1, layer.dropout2,
                                    layer.dropout3))
    assert layer.activation is F.relu and not layer.norm_first
    assert nn.TransformerDecoderLayer(8, 2, activation="gelu").activation is F.gelu
    no_bias = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, bias=False)
    assert not any(name.endswith("bias") for name in no_bias.state_dict())
    with_module = nn.TransformerDecoderLayer(8, 2, 16, activation=nn.PReLU())
    assert list(with_module.state_dict())[-1] == "activation.weight"
    with pytest.raises(ValueError, match="TransformerDecoderLayer.*'swish'"):
        nn.TransformerDecoderLayer(8, 2, activation="swish")
    with pytest.raises(TypeError, match="TransformerDecoderLayer.*int"):
        nn.TransformerDecoderLayer(8, 2, activation=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="embed_dim 8 must be divisible by num_heads 3"):
        nn.TransformerDecoderLayer(8, 3)
    with pytest.raises(RuntimeError, match="CPU"):
        nn.TransformerDecoderLayer(8, 2, device="cuda")


def test_decoder_layer_bad_input_names_the_argument() -> None:
    layer = _layer()
    r = rng(6)
    tgt, memory = r.standard_normal((3, 2, 8)), r.standard_normal((4, 2, 8))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(4, 4\).*\(3, 4\)"):
        layer(tgt, memory, memory_mask=np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(2, 3\).*\(2, 4\)"):
        layer(tgt, memory, memory_key_padding_mask=np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="batch size 3"):
        layer(tgt, r.standard_normal((4, 3, 8)))


def test_eval_disables_dropout() -> None:
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.5,
                                       dtype=np.float64)
    _randomise(layer, 7)
    r = rng(8)
    tgt, memory = r.standard_normal((4, 3, 8)), r.standard_normal((5, 3, 8))
    dlcore.manual_seed(0)
    a, b = layer(tgt, memory).numpy(), layer(tgt, memory).numpy()
    assert not np.allclose(a, b)
    layer.eval()
    want = _decoder_layer_reference(layer, tgt, memory, RELU, {}, {})
    first, second = layer(tgt, memory).numpy(), layer(tgt, memory).numpy()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, want, rtol=1e-9, atol=1e-10)
    assert not np.allclose(a, want)

    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.5, dtype=np.float64)
    src = r.standard_normal((5, 3, 8))
    a, b = model(src, tgt).numpy(), model(src, tgt).numpy()
    assert not np.allclose(a, b)
    model.eval()
    np.testing.assert_array_equal(model(src, tgt).numpy(), model(src, tgt).numpy())


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_gradients(norm_first: bool) -> None:
    layer = _layer(4, 2, seed=9, dim_feedforward=3, dropout=0.0, activation="gelu",
                   norm_first=norm_first)
    r = rng(10)
    tgt, memory = r.standard_normal((3, 2, 4)), r.standard_normal((2, 2, 4))
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64)
    padding = np.array([[False, True], [False, False]])
    _gradcheck_module(layer, lambda t, m: layer(t, m, tgt_mask=tgt_mask,
                                                memory_key_padding_mask=padding),
                      [tgt, memory])


# ----------------------------------------------------------------- TransformerDecoder
def test_decoder_copies_the_layer_and_applies_the_norm() -> None:
    layer = _layer(seed=11)
    decoder = nn.TransformerDecoder(layer, num_layers=3,
                                    norm=nn.LayerNorm(8, dtype=np.float64)).eval()
    keys = list(decoder.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight"
    assert keys[-2:] == ["norm.weight", "norm.bias"] and len(keys) == 3 * 18 + 2
    first, second = decoder.layers[0], decoder.layers[1]
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), layer.linear1.weight.numpy())
    first.linear1.weight.data += 1.0
    assert not np.allclose(first.linear1.weight.numpy(), second.linear1.weight.numpy())

    r = rng(12)
    tgt, memory = r.standard_normal((5, 2, 8)), r.standard_normal((3, 2, 8))
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    padding = np.array([[False, False, True], [False, False, False]])
    want = tgt
    for sub in decoder.layers:
        want = _decoder_layer_reference(sub, want, memory, RELU, {"attn_mask": causal},
                                        {"key_padding_mask": padding})
    want = _layer_norm(want, 1.0, 0.0, 1e-5)
    got = decoder(tgt, memory, tgt_mask=causal, memory_key_padding_mask=padding)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)
    got = decoder(tgt, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(nn.TransformerDecoder(layer, 0)(tgt, memory).numpy(), tgt)
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerDecoder(layer, -1)


# ----------------------------------------------------------------- Transformer
def _attn_keys(prefix: str, E: int) -> list:
    return [(f"{prefix}.in_proj_weight", (3 * E, E)), (f"{prefix}.in_proj_bias", (3 * E,)),
            (f"{prefix}.out_proj.weight", (E, E)), (f"{prefix}.out_proj.bias", (E,))]


def test_transformer_state_dict_keys_match_pytorch() -> None:
    E, F_ = 8, 16
    model = nn.Transformer(d_model=E, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=F_)
    enc, dec = "encoder.layers.0", "decoder.layers.0"
    want = (_attn_keys(f"{enc}.self_attn", E) + [
        (f"{enc}.linear1.weight", (F_, E)), (f"{enc}.linear1.bias", (F_,)),
        (f"{enc}.linear2.weight", (E, F_)), (f"{enc}.linear2.bias", (E,)),
        (f"{enc}.norm1.weight", (E,)), (f"{enc}.norm1.bias", (E,)),
        (f"{enc}.norm2.weight", (E,)), (f"{enc}.norm2.bias", (E,)),
        ("encoder.norm.weight", (E,)), ("encoder.norm.bias", (E,))]
        + _attn_keys(f"{dec}.self_attn", E) + _attn_keys(f"{dec}.multihead_attn", E) + [
        (f"{dec}.linear1.weight", (F_, E)), (f"{dec}.linear1.bias", (F_,)),
        (f"{dec}.linear2.weight", (E, F_)), (f"{dec}.linear2.bias", (E,)),
        (f"{dec}.norm1.weight", (E,)), (f"{dec}.norm1.bias", (E,)),
        (f"{dec}.norm2.weight", (E,)), (f"{dec}.norm2.bias", (E,)),
        (f"{dec}.norm3.weight", (E,)), (f"{dec}.norm3.bias", (E,)),
        ("decoder.norm.weight", (E,)), ("decoder.norm.bias", (E,))])
    assert [(k, v.shape) for k, v in model.state_dict().items()] == want
    assert (model.d_model, model.nhead, model.batch_first) == (8, 2, False)
    assert isinstance(model.encoder, nn.TransformerEncoder)
    assert isinstance(model.decoder, nn.TransformerDecoder)
    default = nn.Transformer()
    assert len(default.encoder.layers) == 6 and len(default.decoder.layers) == 6
    assert default.decoder.layers[5].linear1.weight.shape == (2048, 512)
    assert default.decoder.layers[0].dropout.p == 0.1


def test_transformer_reinitialises_matrices_with_xavier_uniform() -> None:
    dlcore.manual_seed(0)
    model = nn.Transformer(64, 4, 1, 1, dim_feedforward=256)
    for name, p in model.named_parameters():
        w = p.numpy()
        if p.ndim == 1:  # left as the layers made them
            if "norm" in name:
                np.testing.assert_array_equal(w, 1.0 if name.endswith("weight") else 0.0)
            elif "proj" in name:
                np.testing.assert_array_equal(w, 0.0)
            continue
        # xavier's bound is above Linear's default 1 / sqrt(fan_in) for every matrix here
        # (e.g. linear2: 0.137 against 0.0625), so a matrix left alone would fail.
        fan_out, fan_in = w.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound, name
        assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound, name

    custom = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 256), 1)
    custom.layers[0].linear2.weight.data[...] = 100.0
    model = nn.Transformer(64, 4, 1, 1, dim_feedforward=256, custom_encoder=custom)
    assert model.encoder is custom
    assert np.abs(custom.layers[0].linear2.weight.numpy()).max() < 1.0
    assert "encoder.norm.weight" not in model.state_dict()


def test_transformer_matches_reference() -> None:
    model = nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=1,
                           dim_feedforward=16, batch_first=True, norm_first=True,
                           dtype=np.float64)
    _randomise(model, 13)
    model.eval()
    r = rng(14)
    src, tgt = r.standard_normal((2, 5, 8)), r.standard_normal((2, 4, 8))
    src_padding = np.array([[False] * 5, [False, False, False, True, True]])
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64)

    def norm(n: nn.LayerNorm, h: np.ndarray) -> np.ndarray:
        return _layer_norm(h, _as64(n.weight), _as64(n.bias), n.eps)

    memory = src
    for layer in model.encoder.layers:
        memory = _encoder_layer_reference(layer, memory, RELU, key_padding_mask=src_padding)
    memory = norm(model.encoder.norm, memory)
    want = _decoder_layer_reference(model.decoder.layers[0], tgt, memory, RELU,
                                    {"attn_mask": tgt_mask.numpy()},
                                    {"key_padding_mask": src_padding})
    want = norm(model.decoder.norm, want)
    got = model(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=src_padding,
                memory_key_padding_mask=src_padding)
    assert got.shape == (2, 4, 8)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)
    got = model(src, tgt, tgt_is_causal=True, src_key_padding_mask=src_padding,
                memory_key_padding_mask=src_padding)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-10)
    unbatched = model(src[0], tgt[0], tgt_mask=tgt_mask)
    np.testing.assert_allclose(unbatched.numpy(), want[0], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("src_shape,tgt_shape,words", [
    ((5, 2, 8), (4, 3, 8), "same batch size in dimension 1"),
    ((5, 2, 8), (4, 2, 6), "d_model = 8"),
    ((5, 2, 8), (4, 8), "both be batched"),
    ((8,), (8,), "both be batched"),
])
def test_transformer_bad_input(src_shape: tuple, tgt_shape: tuple, words: str) -> None:
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(ValueError, match=words) as info:
        model(np.zeros(src_shape), np.zeros(tgt_shape))
    assert str(src_shape) in str(info.value) and str(tgt_shape) in str(info.value)


def test_generate_square_subsequent_mask() -> None:
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    inf = -np.inf
    want = np.array([[0, inf, inf, inf], [0, 0, inf, inf], [0, 0, 0, inf], [0, 0, 0, 0]])
    assert isinstance(mask, dlcore.Tensor) and mask.dtype == np.float32
    np.testing.assert_array_equal(mask.numpy(), want)
    assert not mask.requires_grad
    np.testing.assert_array_equal(nn.Transformer(8, 2, 1, 1, 16)
                                  .generate_square_subsequent_mask(1).numpy(), [[0.0]])
    assert nn.Transformer.generate_square_subsequent_mask(0).shape == (0, 0)
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64).dtype == \
        np.float64
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="sz must be a non-negative int"):
            nn.Transformer.generate_square_subsequent_mask(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float dtype"):
        nn.Transformer.generate_square_subsequent_mask(3, dtype=np.int64)


class _Reverser(nn.Module):
    """Token and learned position embeddings around an ``nn.Transformer`` and a classifier."""

    def __init__(self, vocab: int, length: int, d_model: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(length, d_model)
        self.transformer = nn.Transformer(d_model, 2, 1, 1, dim_feedforward=64, dropout=0.0,
                                          batch_first=True)
        self.classify = nn.Linear(d_model, vocab)

    def embed(self, tokens: np.ndarray) -> dlcore.Tensor:
        return self.tokens(tokens) + self.positions(np.arange(tokens.shape[1]))

    def forward(self, src: np.ndarray, tgt_in: np.ndarray) -> dlcore.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1])
        return self.classify(self.transformer(self.embed(src), self.embed(tgt_in),
                                              tgt_mask=mask))


def test_tiny_transformer_learns_to_reverse_a_sequence() -> None:
    """Teacher forcing: the decoder reads ``[BOS] + reversed[:-1]`` under the causal mask and
    predicts ``reversed``. The token at output position ``i`` is the source's ``L - 1 - i``,
    which only cross-attention can fetch."""
    dlcore.manual_seed(0)
    r = rng(15)
    vocab, L, BOS = 8, 5, 0

    def batch(n: int) -> tuple:
        src = r.integers(1, vocab, (n, L))
        target = src[:, ::-1]
        tgt_in = np.concatenate([np.full((n, 1), BOS), target[:, :-1]], axis=1)
        return src, tgt_in, target

    model = _Reverser(vocab, L, 32)
    optimizer = dlcore.optim.Adam(model.parameters(), lr=0.003)
    start = time.perf_counter()
    for _ in range(250):
        src, tgt_in, target = batch(64)
        loss = F.cross_entropy(model(src, tgt_in).reshape(-1, vocab), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    src, tgt_in, target = batch(500)
    accuracy = (model(src, tgt_in).numpy().argmax(axis=-1) == target).mean()
    assert accuracy > 0.98, f"teacher-forced accuracy {accuracy}"
    # Greedy decoding, feeding back the model's own predictions, also reverses.
    decoded = np.full((500, 1), BOS)
    for _ in range(L):
        step = model(src, decoded).numpy()[:, -1].argmax(axis=-1)
        decoded = np.concatenate([decoded, step[:, None]], axis=1)
    assert (decoded[:, 1:] == target).all(axis=1).mean() > 0.9
    assert time.perf_counter() - start < 30


# ----------------------------------------------------------------- CosineSimilarity
def _cosine(a: np.ndarray, b: np.ndarray, dim: int, eps: float) -> np.ndarray:
    """PyTorch's definition: ``dim`` counts in the broadcast shape, and the norms are of the
    broadcast operands."""
    a, b = np.broadcast_arrays(a, b)
    dot = (a * b).sum(axis=dim)
    return dot / np.maximum(np.linalg.norm(a, axis=dim) * np.linalg.norm(b, axis=dim), eps)


@pytest.mark.parametrize("shape1,shape2,dim", [
    ((4, 6), (4, 6), 1), ((3, 5, 2), (3, 5, 2), 1), ((3, 5, 2), (3, 5, 2), -1),
    ((3, 5, 2), (1, 5, 2), 0), ((6,), (6,), 0), ((2, 3, 4), (4,), 2),
])
def test_cosine_similarity_module_matches_numpy(shape1: tuple, shape2: tuple,
                                                dim: int) -> None:
    r = rng(16)
    a, b = r.standard_normal(shape1), r.standard_normal(shape2)
    cos = nn.CosineSimilarity(dim=dim)
    check_op(cos, lambda x, y: _cosine(x, y, dim, 1e-8), [a, b], rtol=1e-10, atol=1e-12,
             float32_rtol=1e-5, float32_atol=1e-6)


def test_cosine_similarity_module_defaults_and_edges() -> None:
    cos = nn.CosineSimilarity()
    assert (cos.dim, cos.eps) == (1, 1e-8) and repr(cos) == "CosineSimilarity(dim=1, eps=1e-08)"
    a = np.array([[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    b = np.array([[2.0, 0.0], [1.0, 1.0], [-3.0, -4.0]])
    np.testing.assert_allclose(cos(a, b).numpy(), [1.0, 0.0, -1.0], atol=1e-12)
    # eps bounds the denominator: tiny vectors give dot / eps, not their cosine.
    tiny = nn.CosineSimilarity(dim=1, eps=0.5)(a * 1e-2, b * 1e-2).numpy()
    np.testing.assert_allclose(tiny, _cosine(a * 1e-2, b * 1e-2, 1, 0.5), rtol=1e-12)
    ints = cos(np.array([[1, 2]]), np.array([[2, 4]]))
    assert ints.dtype == np.float32 and ints.numpy()[0] == pytest.approx(1.0)
    view = np.arange(12.0).reshape(3, 4)[:, ::2]  # non-contiguous
    np.testing.assert_allclose(cos(view, view + 1).numpy(), _cosine(view, view + 1, 1, 1e-8))
    nan = cos(np.array([[np.nan, 1.0], [1.0, 1.0]]), np.ones((2, 2))).numpy()
    assert np.isnan(nan[0]) and nan[1] == pytest.approx(1.0)
    assert cos(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="eps must be positive"):
        nn.CosineSimilarity(eps=0.0)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\) do not broadcast"):
        cos(np.zeros((2, 3)), np.zeros((2, 4)))
