"""Fuzz every ``dlcore._core`` function with random dtypes, shapes, strides and arguments.

Run as ``python tests/extension_fuzz.py FAMILY [EXAMPLES]`` (``test_extension_fuzz.py``
does, in a subprocess, so that a crash of the interpreter is caught as a failure). Each
call must either succeed or raise TypeError / ValueError / MemoryError with a message: a
pyo3 PanicException (a BaseException), any other exception or a segfault fails. Where a
call succeeds on plain data the result is checked against NumPy.
"""

from __future__ import annotations

import sys

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcore import _core as C

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.bool_, np.complex64,
          object, ">f4", ">f8"]
LAYOUTS = ["plain", "transposed", "negative", "step", "broadcast", "read-only", "unaligned",
           "fortran"]
BIG = st.sampled_from([2**40, 2**62, 2**63 - 1, -(2**63)])


@st.composite
def arrays(draw, ndim=None, dtype=None, shape=None):
    """An array of any dtype (mostly float32/float64), any layout, NaN/inf included."""
    if dtype is None:
        dtype = draw(st.sampled_from(DTYPES + [np.float32, np.float64] * 4))
    if shape is None:
        nd = draw(st.integers(0, 4)) if ndim is None else ndim
        shape = tuple(draw(st.integers(0, 5)) for _ in range(nd))
    layout = draw(st.sampled_from(LAYOUTS))
    base = tuple(2 * s for s in shape) if layout == "step" else shape
    n = int(np.prod(base))
    if n <= 256:
        values = np.array(draw(st.lists(st.floats(width=32), min_size=n, max_size=n)))
    else:  # Hypothesis cannot draw long lists; a seeded normal sample stands in
        values = np.random.default_rng(draw(st.integers(0, 2**32))).standard_normal(n)
    with np.errstate(all="ignore"):
        a = values.astype(np.float64).reshape(base).astype(dtype)
    if layout == "transposed" and a.ndim >= 2:
        a = np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)
    elif layout == "negative" and a.ndim >= 1:
        a = np.ascontiguousarray(a[::-1])[::-1]
    elif layout == "step" and a.ndim >= 1:
        a = a[tuple(slice(None, None, 2) for _ in range(a.ndim))]
    elif layout == "broadcast" and a.ndim >= 1 and a.shape[0] > 0:
        a = np.broadcast_to(a[:1], a.shape)
    elif layout == "read-only":
        a.flags.writeable = False
    elif layout == "unaligned" and a.dtype.kind in "fc" and a.size:
        raw = np.zeros(a.nbytes + 1, np.uint8)
        moved = np.ndarray(a.shape, dtype=a.dtype, buffer=raw.data, offset=1)
        moved[...] = a
        a = moved
    elif layout == "fortran":
        a = np.asfortranarray(a)
    return a


def plain_float(a):
    return (isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64)
            and np.isfinite(a).all() and (a.size == 0 or np.abs(a).max() < 1e15))


def call(fn, *args, **kwargs):
    """``(result, None)`` or ``(None, error)`` for the errors bad input may give."""
    try:
        return fn(*args, **kwargs), None
    except (TypeError, ValueError, MemoryError) as err:
        assert str(err), f"{fn.__name__} raised {type(err).__name__} without a message"
        return None, err


def maybe(data, strategy):
    return data.draw(st.none() | strategy)


def fuzz_matmul(data):
    a, b = data.draw(arrays()), data.draw(arrays())
    out = maybe(data, arrays())
    accumulate = data.draw(st.booleans())
    before = None if out is None else np.array(out, dtype=np.float64)
    result, err = call(C.matmul, a, b, out, accumulate)
    if err is None and plain_float(a) and plain_float(b):
        want = a.astype(np.float64) @ b.astype(np.float64) + (before if accumulate else 0)
        tol = 1e-3 if a.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(result, want, rtol=tol, atol=tol * (1 + np.abs(want).max(
            initial=0)))


NAMES = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "step", "silu", "gelu", "gelu_tanh",
         "bogus"]


def fuzz_activation(data):
    name = data.draw(st.sampled_from(NAMES))
    x = data.draw(arrays())
    param = data.draw(st.floats())
    y, err = call(C.activation_forward, name, x, maybe(data, arrays()), param)
    if err is None:
        assert y.shape == x.shape and y.dtype == x.dtype
        if name == "relu" and plain_float(x):
            np.testing.assert_array_equal(y, np.maximum(x, 0))
        call(C.activation_backward, name, x, np.array(y), data.draw(arrays()),
             maybe(data, arrays()), param)


def fuzz_softmax(data):
    x = data.draw(arrays())
    log = data.draw(st.booleans())
    result, err = call(C.log_softmax if log else C.softmax_rows, x, maybe(data, arrays()))
    if err is None and plain_float(x) and x.size:
        shifted = x.astype(np.float64) - x.max(axis=1, keepdims=True)
        want = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(result, want if log else np.exp(want), rtol=1e-5, atol=1e-5)


def fuzz_cross_entropy(data):
    logits = data.draw(arrays())
    rows = logits.shape[0] if logits.ndim else 0
    labels = data.draw(
        st.lists(st.integers(-3, 8) | st.sampled_from([-100, -(2**63), 2**63 - 1]),
                 min_size=rows, max_size=rows).map(lambda v: np.array(v, dtype=np.int64))
        | arrays(dtype=data.draw(st.sampled_from([np.int64, np.int32, np.float32, ">i8"]))))
    ignore = data.draw(st.none() | st.sampled_from([-100, -1, 0, 2**63 - 1]))
    result, err = call(C.cross_entropy_forward, logits, labels, ignore)
    if err is None:
        _, log_probs = result
        call(C.cross_entropy_backward, log_probs, labels, data.draw(arrays()), ignore)


STEPS = {
    "sgd_step": (["momentum_buffers"], {"lr": 0.1, "momentum": 0.9}),
    "adagrad_step": (["state_sums"], {"lr": 0.1}),
    "adadelta_step": (["square_avgs", "acc_deltas"], {}),
    "rmsprop_step": (["square_avgs", "momentum_buffers", "grad_avgs"],
                     {"lr": 0.1, "momentum": 0.5, "centered": True}),
    "adam_step": (["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"], {"lr": 0.1, "amsgrad": True}),
}


def fuzz_optim(data):
    name = data.draw(st.sampled_from(sorted(STEPS)))
    lists, hyper = STEPS[name]
    n = data.draw(st.integers(0, 3))
    if data.draw(st.booleans()):  # one shape and dtype for all: the step may run
        shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3)))
        dtype = data.draw(st.sampled_from([np.float32, np.float64]))
        strategy = arrays(dtype=dtype, shape=shape)
    else:
        strategy = arrays()
    params = [data.draw(strategy) for _ in range(n)]
    grads = [data.draw(strategy) for _ in range(n)]
    if n >= 2 and data.draw(st.booleans()):
        grads[0] = params[0]  # aliasing must be refused
    states = [[data.draw(strategy) for _ in range(n)] for _ in lists]
    steps = (np.zeros(n, np.int64) if data.draw(st.booleans())
             else data.draw(arrays(dtype=np.int64)))
    hyper = {k: (data.draw(st.floats()) if data.draw(st.integers(0, 4)) == 0 else v)
             for k, v in hyper.items()}
    call(getattr(C, name), params, grads, *states, steps, **hyper)


def fuzz_conv(data):
    x, w = data.draw(arrays(ndim=4)), data.draw(arrays(ndim=4))
    small = st.integers(-2, 4)
    stride = (data.draw(small | BIG), data.draw(small))
    pad = tuple(data.draw(st.integers(-1, 3) | BIG) for _ in range(4))
    dilation = (data.draw(st.integers(0, 3) | BIG), data.draw(st.integers(1, 3)))
    groups = data.draw(st.integers(-1, 3))
    out, err = call(C.conv2d_forward, x, w, maybe(data, arrays(ndim=1)), stride, pad,
                    dilation, groups)
    if err is None:
        call(C.conv2d_backward, x, w, np.ones(out.shape, out.dtype), stride, pad, dilation,
             groups)
        call(C.conv2d_backward, x, w, data.draw(arrays()), stride, pad, dilation, groups)
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular", "x"]))
    padded, err = call(C.pad2d, x, pad, mode)
    if err is None:
        call(C.pad2d_backward, np.ascontiguousarray(padded), pad, mode)


def fuzz_pool(data):
    x = data.draw(arrays(ndim=4))
    small = st.integers(-1, 4)
    kernel = (data.draw(small | BIG), data.draw(small))
    stride = (data.draw(small), data.draw(small))
    padding = (data.draw(st.integers(-1, 2)), data.draw(st.integers(-1, 2)))
    dilation = (data.draw(st.integers(0, 3) | BIG), 1)
    ceil = data.draw(st.booleans())
    kind = data.draw(st.sampled_from(["max", "min", "avg"]))
    window = (kernel, stride, padding, dilation, ceil)
    result, err = call(C.extremum_pool2d, x, kind, *window)
    if err is None:
        y, idx = result
        if plain_float(x) and x.size and kind == "max" and padding == (0, 0) \
                and dilation == (1, 1) and not ceil:
            windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
            want = windows[:, :, ::stride[0], ::stride[1]].max(axis=(-2, -1))
            np.testing.assert_array_equal(y, want)
        call(C.extremum_pool2d_backward, np.ones_like(y), idx, x.shape, kind, *window)
        bad = data.draw(arrays(dtype=np.int64, shape=y.shape))
        call(C.extremum_pool2d_backward, np.ones_like(y), bad, x.shape, kind, *window)
    include_pad, divisor = data.draw(st.booleans()), data.draw(st.none() | st.integers(1, 5))
    out, err = call(C.avg_pool2d, x, kernel, stride, padding, ceil, include_pad, divisor)
    if err is None:
        call(C.avg_pool2d_backward, np.ones_like(out), x.shape, kernel, stride, padding, ceil,
             include_pad, divisor)
    size = (data.draw(st.integers(-1, 6)), data.draw(st.integers(-1, 6)))
    out, err = call(C.adaptive_avg_pool2d, x, size)
    if err is None:
        call(C.adaptive_avg_pool2d_backward, np.ones_like(out), x.shape)
    picked, err = call(C.adaptive_extremum_pool2d, x, kind, size)
    if err is None:
        out, idx = picked
        call(C.adaptive_extremum_pool2d_backward, np.ones_like(out), idx, x.shape, kind)
        bad = data.draw(arrays(dtype=np.int64, shape=out.shape))
        call(C.adaptive_extremum_pool2d_backward, np.ones_like(out), bad, x.shape, kind)


def fuzz_batch_norm(data):
    x = data.draw(arrays())
    channels = x.shape[1] if x.ndim >= 2 else 1
    vector = arrays(shape=(channels,)) | arrays()
    stats, err = call(C.batch_norm_stats, x)
    mean, inv_std = stats if err is None else (data.draw(vector), data.draw(vector))
    weight = maybe(data, arrays(shape=(channels,)))
    call(C.batch_norm_forward, x, mean, inv_std, weight, maybe(data, vector))
    call(C.batch_norm_backward, x, data.draw(arrays()), mean, inv_std, weight,
         data.draw(st.booleans()))


def fuzz_dropout(data):
    x = data.draw(arrays())
    p = data.draw(st.floats() | st.floats(0, 1))
    seed = data.draw(st.integers(0, 2**64 - 1))
    group = data.draw(st.integers(0, 4) | st.sampled_from([2**63]))
    out, err = call(C.dropout, x, p, seed, group, maybe(data, arrays()))
    if err is None and plain_float(x) and 0 <= p < 1:
        kept = out != 0
        np.testing.assert_allclose(out[kept], (x / (1 - p))[kept].astype(x.dtype), rtol=1e-6)



def fuzz_recurrent(data):
    # Gate arrays and states of any dtype, layout and shape: the cells and their backward
    # passes must answer with a result or an error, never a crash.
    gates, c_prev = data.draw(arrays(ndim=2)), data.draw(arrays())
    result, err = call(C.lstm_cell, gates, c_prev)
    if err is None:
        hc, act = result
        call(C.lstm_cell_backward, act, c_prev, np.array(hc[1]), data.draw(arrays()))
        call(C.lstm_cell_backward, act, data.draw(arrays()), data.draw(arrays()),
             np.ones_like(hc))
    gx, gh, h_prev = data.draw(arrays(ndim=2)), data.draw(arrays()), data.draw(arrays())
    result, err = call(C.gru_cell, gx, gh, h_prev)
    if err is None:
        h, saved = result
        call(C.gru_cell_backward, saved, gh, h_prev, data.draw(arrays()))
        call(C.gru_cell_backward, saved, data.draw(arrays()), h_prev, np.ones_like(h))

FAMILIES = {name[len("fuzz_"):]: fn for name, fn in dict(globals()).items()
            if name.startswith("fuzz_")}


def run(family: str, examples: int) -> None:
    body = FAMILIES[family]
    test = settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))(given(st.data())(body))
    test()


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200)
    print(f"fuzz {sys.argv[1]}: passed")
