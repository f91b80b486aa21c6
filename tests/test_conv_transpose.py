"""conv_transpose2d and ConvTranspose2d: against the reference, finite differences, and as
conv2d's adjoint."""

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim
from dlcore.reference import conv as ref

CASES = [
    # n, c_in, h, w, c_out, k, stride, padding, output_padding, groups, dilation
    (2, 4, 5, 6, 6, 3, 2, 1, 1, 2, 1),
    (1, 3, 4, 4, 2, 2, 2, 0, 0, 1, 1),
    (2, 2, 3, 5, 4, 3, 1, 2, 0, 1, 2),
    (1, 4, 3, 3, 4, 3, 3, 1, 2, 4, 1),
    (2, 2, 4, 4, 3, 1, 1, 0, 0, 1, 1),
    # output_padding past padding + stride - 1 (dilation > stride): rows no input reaches
    (1, 2, 3, 4, 2, 3, 1, 0, 1, 1, 2),
    (2, 2, 3, 3, 2, 2, 2, 0, 2, 1, 3),
]


def _case(n, c_in, h, w, c_out, k, s, p, op, g, d, seed=0):
    gen = rng(seed)
    x = gen.standard_normal((n, c_in, h, w))
    weight = gen.standard_normal((c_in, c_out // g, k, k))
    bias = gen.standard_normal(c_out)
    geometry = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    reference = dict(stride=(s, s), padding=(p, p), output_padding=(op, op), groups=g,
                     dilation=(d, d))
    return x, weight, bias, geometry, reference


@pytest.mark.parametrize("case", CASES)
def test_forward_and_gradients_against_reference(case):
    x, weight, bias, geometry, reference = _case(*case)
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **geometry),
             lambda x, w, b: ref.conv_transpose2d(x, w, b, **reference),
             [x, weight, bias], rtol=1e-10, atol=1e-10, float32_rtol=1e-4, float32_atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       dh=st.integers(1, 2), dw=st.integers(1, 2), data=st.data())
def test_random_geometry_is_the_adjoint_of_conv2d(n, c_in, c_out, h, w, kh, kw, sh, sw, ph, pw,
                                                   dh, dw, data):
    oh = data.draw(st.integers(0, max(sh, dh) - 1))
    ow = data.draw(st.integers(0, max(sw, dw) - 1))
    height = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    width = (w - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    if height < 1 or width < 1:
        with pytest.raises(ValueError, match="gives an empty output"):
            F.conv_transpose2d(np.zeros((n, c_in, h, w)), np.zeros((c_in, c_out, kh, kw)),
                               stride=(sh, sw), padding=(ph, pw), output_padding=(oh, ow),
                               dilation=(dh, dw))
        return
    gen = rng(data.draw(st.integers(0, 2**16)))
    x = gen.standard_normal((n, c_in, h, w))
    weight = gen.standard_normal((c_in, c_out, kh, kw))
    geometry = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    y = F.conv_transpose2d(x, weight, output_padding=(oh, ow), **geometry).numpy()
    assert y.shape == (n, c_out, height, width)
    np.testing.assert_allclose(
        y, ref.conv_transpose2d(x, weight, output_padding=(oh, ow), **geometry),
        rtol=1e-10, atol=1e-10)
    if oh >= sh or ow >= sw:
        return  # (dilation > stride) no conv2d with these settings maps y's size to x's
    # <conv2d(z, W), x> == <z, conv_transpose2d(x, W)> for every z: the adjoint.
    z = gen.standard_normal(y.shape)
    pads = (ph, ph, pw, pw)
    forward = ref.conv2d(z, weight, stride=(sh, sw), padding=pads, dilation=(dh, dw))
    assert forward.shape == x.shape
    assert np.vdot(forward, x) == pytest.approx(np.vdot(z, y), rel=1e-9, abs=1e-9)


def test_it_undoes_the_shape_of_a_strided_conv2d():
    x = dlcore.randn(2, 3, 28, 28)
    down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    up = nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1)
    assert down(x).shape == (2, 8, 14, 14)
    assert up(down(x)).shape == x.shape


def test_module_parameters_init_repr_and_unbatched_input():
    dlcore.manual_seed(0)
    layer = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert layer.weight.shape == (4, 3, 3, 3) and layer.bias.shape == (6,)
    bound = 1 / np.sqrt(3 * 9)
    assert np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.weight.numpy()).max() > 0.8 * bound
    assert np.abs(layer.bias.numpy()).max() <= bound
    assert repr(layer) == ("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), "
                           "padding=(1, 1), output_padding=(1, 1), groups=2)")
    x = np.random.default_rng(0).standard_normal((4, 5, 5)).astype(np.float32)
    batched = layer(x[None]).numpy()
    np.testing.assert_allclose(layer(x).numpy(), batched[0], rtol=1e-6)
    assert layer(x.astype(np.uint8)).dtype == np.float32
    assert list(nn.ConvTranspose2d(2, 2, 2, bias=False).state_dict()) == ["weight"]


def test_gradcheck_through_the_module_in_float64():
    layer = nn.ConvTranspose2d(2, 3, (2, 3), stride=(2, 1), padding=(0, 1), dtype=np.float64)
    x = rng(1).standard_normal((2, 2, 3, 4))
    assert dlcore.autograd.gradcheck(lambda t: layer(t), [x])
    layer.zero_grad()
    out = layer(dlcore.tensor(x, requires_grad=True))
    out.sum().backward()
    assert layer.weight.grad.shape == layer.weight.shape
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(3, out.numpy()[0, 0].size * 2))


def test_errors_name_the_argument_and_shapes():
    x = np.zeros((1, 4, 5, 5), dtype=np.float32)
    w = np.zeros((4, 2, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"input \(1, 3, 5, 5\) has 3 channels but weight "
                                         r"\(4, 2, 3, 3\) expects 4"):
        F.conv_transpose2d(np.zeros((1, 3, 5, 5)), w)
    with pytest.raises(ValueError, match=r"output_padding \(2, 2\) must be smaller than the "
                                         r"stride \(2, 2\)"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\); expected \(2,\)"):
        F.conv_transpose2d(x, w, bias=np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="weight must be 4-D"):
        F.conv_transpose2d(x, w[0])
    with pytest.raises(TypeError, match="weight must be float32 or float64"):
        F.conv_transpose2d(x, w.astype(np.int64))
    with pytest.raises(ValueError, match="input must be"):
        F.conv_transpose2d(np.zeros((4, 5)), w)
    with pytest.raises(ValueError, match="not divisible by groups=3"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match="out_channels=3 is not divisible by groups=2"):
        nn.ConvTranspose2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="only padding_mode='zeros'"):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(4, 4, 3, stride=1, output_padding=1)


def test_nan_reaches_only_the_outputs_it_feeds():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.nan
    y = F.conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2).numpy()
    assert np.isnan(y[0, 0, :2, :2]).all()
    assert not np.isnan(y[0, 0, 2:, :]).any() and not np.isnan(y[0, 0, :, 2:]).any()


def test_a_small_autoencoder_learns_to_reconstruct_digits():
    images, _ = dlcore.datasets.load_mnist_subset()
    x = images[::25][:128, None].astype(np.float32) / 255
    dlcore.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),                        # 14x14
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),                       # 7x7
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
    )
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(40):
        loss = F.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model(x).shape == x.shape
    assert losses[-1] < 0.5 * losses[0]
