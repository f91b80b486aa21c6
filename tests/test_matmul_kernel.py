"""The Rust GEMM (`dlcore._core.matmul`) against NumPy on odd shapes and strided views."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import _core


def layout_operands(m, k, n, layout, dtype=np.float32, seed=0):
    """Random `(a, b)` of shapes (m, k) and (k, n); "T" in `layout` makes that operand the
    transposed view of a C-order array."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if layout[0] == "T" else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if layout[1] == "T" else (k, n)).astype(dtype)
    return (a.T if layout[0] == "T" else a), (b.T if layout[1] == "T" else b)


def assert_product_and_accumulate(a, b, extra=1.0):
    """`_core.matmul(a, b)` and, into an `out` full of `extra`, with accumulate=True, against
    NumPy in float64."""
    k = a.shape[1]
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 if a.dtype == np.float32 else 1e-10
    got = _core.matmul(a, b)
    assert got.dtype == a.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))
    out = np.full(want.shape, extra, dtype=a.dtype)
    _core.matmul(a, b, out, True)
    np.testing.assert_allclose(out, want + extra, rtol=tol, atol=tol * np.sqrt(k))


@st.composite
def strided_operands(draw):
    m = draw(st.integers(1, 70))
    k = draw(st.integers(1, 70))
    n = draw(st.integers(1, 70))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)

    def operand(rows, cols):
        kind = draw(st.sampled_from(["c", "transposed", "sliced", "fortran"]))
        if kind == "transposed":
            return rng.standard_normal((cols, rows)).astype(dtype).T
        if kind == "sliced":
            step_r, step_c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            big = rng.standard_normal((rows * step_r, cols * step_c + 1)).astype(dtype)
            return big[::step_r, 1::step_c]
        if kind == "fortran":
            return np.asfortranarray(rng.standard_normal((rows, cols)).astype(dtype))
        return rng.standard_normal((rows, cols)).astype(dtype)

    return operand(m, k), operand(k, n)


@settings(max_examples=120, deadline=None)
@given(strided_operands())
def test_matches_numpy_on_strided_views(ab):
    a, b = ab
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = _core.matmul(a, b)
    assert got.dtype == a.dtype and got.shape == want.shape
    tol = 1e-4 if a.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * a.shape[1])


@pytest.mark.parametrize("m,k,n", [(64, 64, 64), (257, 129, 65), (1, 500, 1), (300, 1, 300),
                                   (64, 784, 256), (6, 25, 2000)])
def test_larger_shapes_and_accumulate(m, k, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = np.ones((m, n), dtype=np.float32)
    _core.matmul(a, b, out, True)
    np.testing.assert_allclose(out, a @ b + 1, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(_core.matmul(a, b, out), a @ b, rtol=1e-4, atol=1e-3)


def test_empty_inner_dimension_gives_zeros():
    got = _core.matmul(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32))
    assert got.shape == (3, 4) and not got.any()
    assert _core.matmul(np.zeros((0, 2)), np.zeros((2, 5))).shape == (0, 5)
    # No columns: the (3, 0) output's row stride is 0, which is not aliasing.
    assert _core.matmul(np.ones((3, 2)), np.ones((2, 0))).shape == (3, 0)


def test_nan_propagates():
    a = np.ones((2, 2), np.float32)
    a[0, 0] = np.nan
    got = _core.matmul(a, np.ones((2, 2), np.float32))
    assert np.isnan(got[0]).all() and not np.isnan(got[1]).any()


def test_errors_are_python_exceptions():
    f32 = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 3\)"):
        _core.matmul(f32, f32)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64))
    with pytest.raises(TypeError, match="dtype"):
        _core.matmul(f32, np.ones((3, 2)))
    with pytest.raises(ValueError, match="2-D"):
        _core.matmul(np.ones(3, np.float32), np.ones((3, 1), np.float32))
    with pytest.raises(ValueError, match="strides"):
        _core.matmul(f32[:, ::-1], np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"out has shape \(3, 3\)"):
        _core.matmul(f32, np.ones((3, 2), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="accumulate"):
        _core.matmul(f32, np.ones((3, 2), np.float32), None, True)


def test_out_may_not_alias_an_input():
    a = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="out"):
        _core.matmul(a, a, a)


@st.composite
def matrix_vector_operands(draw):
    """A product with 1 to 7 rows or columns of output (up to 3 or 6 run as matrix-vector
    products, one per row or column), the matrix row-major, transposed or strided both ways
    (which the GEMM takes instead), the vectors contiguous or strided."""
    k = draw(st.integers(1, 300))
    length = draw(st.integers(1, 300))
    vectors = draw(st.integers(1, 7))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))

    def operand(shape):
        kind = draw(st.sampled_from(["c", "transposed", "sliced"]))
        if kind == "transposed":
            return rng.standard_normal(shape[::-1]).astype(dtype).T
        if kind == "sliced":
            return rng.standard_normal((2 * shape[0], 2 * shape[1])).astype(dtype)[::2, ::2]
        return rng.standard_normal(shape).astype(dtype)

    if draw(st.booleans()):  # X (vectors, k) @ M (k, length)
        return operand((vectors, k)), operand((k, length))
    return operand((length, k)), operand((k, vectors))  # M (length, k) @ X (k, vectors)


@settings(max_examples=120, deadline=None)
@given(matrix_vector_operands())
def test_matrix_vector_products_match_numpy(ab):
    assert_product_and_accumulate(*ab, extra=3.0)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("m,k,n", [(1, 1024, 1024), (1024, 1024, 1), (1, 3000, 300),
                                   (1, 7, 200000)])
@pytest.mark.parametrize("layout", ["NN", "NT", "TN"])
def test_matrix_vector_products_split_across_threads(threads, m, k, n, layout):
    # From 768Ki matrix elements a matrix-vector product is split across threads: by runs of
    # the matrix's rows (partial sums added afterwards) or of its columns, whichever is
    # contiguous; the last splits a depth of only 7 (runs of 4 and 3, or 3, 3 and 1).
    a, b = layout_operands(m, k, n, layout, seed=m + n + threads)
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(threads)
        assert_product_and_accumulate(a, b)
    finally:
        dlcore.set_num_threads(before)


def test_nan_in_a_matrix_vector_product_reaches_only_its_outputs():
    x = np.ones((1, 40), np.float32)
    w = np.ones((40, 9), np.float32)
    w[3, 5] = np.nan
    for b in (w, np.asfortranarray(w)):  # rows or columns contiguous
        got = _core.matmul(x, b)[0]
        assert np.isnan(got[5]) and not np.isnan(np.delete(got, 5)).any()
    x[0, 7] = np.nan
    assert np.isnan(_core.matmul(x, w)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(784, 256, 16), (1024, 64, 10), (600, 300, 24), (40, 1024, 32)])
def test_transposed_a_against_few_columns_of_b(dtype, m, k, n):
    # A linear layer's weight gradient g^T @ x for inputs of few features: a transposed A
    # against at most 32 columns runs as C^T = B^T A^T into a column-major C^T (the last shape,
    # with few rows, does not).
    rng = np.random.default_rng(m + n)
    a = rng.standard_normal((k, m)).astype(dtype).T
    b = rng.standard_normal((k, n)).astype(dtype)
    assert_product_and_accumulate(a, b)


@pytest.mark.parametrize("layout", ["NN", "TN", "NT", "TT"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_crossing_every_block_with_transposed_views(layout, dtype):
    # 200 x 530 x 1100 crosses the packed GEMM's row (96), depth (512 f32 / 256 f64) and
    # column (1024) blocks and is large enough to be split across threads.
    m, k, n = 200, 530, 1100
    assert_product_and_accumulate(*layout_operands(m, k, n, layout, dtype, seed=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n,pad", [(64, 64, 64, 0), (100, 600, 64, 0), (13, 70, 9, 5),
                                       (30, 512, 40, 0), (40, 256, 20, 0), (97, 33, 32, 1)])
def test_narrow_products_reading_a_in_place(dtype, m, k, n, pad):
    # n <= 64 f32 / 32 f64 columns: a row-major A (here also with padded rows, and with rows
    # a multiple of 2 KiB apart, which is packed instead) is read without being copied.
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k + pad)).astype(dtype)[:, :k]
    b = rng.standard_normal((k, n)).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(_core.matmul(a, b), want, rtol=tol, atol=tol * np.sqrt(k))
    out = np.full((m, n), 2.0, dtype=dtype)
    _core.matmul(a, b, out, True)
    np.testing.assert_allclose(out, want + 2, rtol=tol, atol=tol * np.sqrt(k))
    np.testing.assert_allclose(_core.matmul(a, b.T.copy().T), want, rtol=tol,
                               atol=tol * np.sqrt(k))


@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("m,k,n", [(130, 300, 2100), (513, 700, 200), (128, 600, 40)])
def test_threads_sharing_packed_blocks(threads, m, k, n):
    # Products with at least 128 rows are shared by packing each block of B together and
    # claiming blocks of A's rows: across the wider shared column blocks (2048 f32 columns),
    # several depth blocks, ragged row blocks and more threads than cores. Called back to
    # back, so a lingering pool thread picks up the next call.
    rng = np.random.default_rng(threads * m)
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(threads)
        for dtype in (np.float32, np.float64):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            want = a.astype(np.float64) @ b.astype(np.float64)
            tol = 1e-4 if dtype == np.float32 else 1e-10
            for _ in range(3):
                np.testing.assert_allclose(_core.matmul(a, b), want, rtol=tol,
                                           atol=tol * np.sqrt(k))
            out = np.ones((m, n), dtype=dtype)
            _core.matmul(a.T.copy().T, b, out, True)
            np.testing.assert_allclose(out, want + 1, rtol=tol, atol=tol * np.sqrt(k))
    finally:
        dlcore.set_num_threads(before)


def test_concurrent_callers_share_the_pool():
    # Python threads calling matmul at once (the GIL is released while it runs): each
    # caller packs into its own buffers while they share the pool's threads.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    pairs = [(rng.standard_normal((300, 200)).astype(np.float32),
              rng.standard_normal((200, 400)).astype(np.float32)) for _ in range(4)]
    wants = [a.astype(np.float64) @ b for a, b in pairs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda ab: [_core.matmul(*ab) for _ in range(5)],
                                pairs * 2))
    for got, want in zip(results, wants * 2):
        for g in got:
            np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("linger_us", ["0", "2000", "not-a-number"])
def test_linger_setting(linger_us):
    # DLCORE_LINGER_US (read once, at the first parallel kernel) changes only how long a pool
    # thread waits for more work; results are the same, and a bad value falls back to the
    # default instead of failing.
    import subprocess
    import sys

    code = (
        "import numpy as np, dlcore\n"
        "from dlcore import _core\n"
        "rng = np.random.default_rng(0)\n"
        "a = rng.standard_normal((300, 200)).astype(np.float32)\n"
        "b = rng.standard_normal((200, 250)).astype(np.float32)\n"
        "for _ in range(20):\n"
        "    np.testing.assert_allclose(_core.matmul(a, b), a.astype(np.float64) @ b,\n"
        "                               rtol=1e-4, atol=1e-3)\n"
        "x = dlcore.tensor(rng.standard_normal((64, 3, 32, 32)).astype(np.float32))\n"
        "w = dlcore.tensor(rng.standard_normal((8, 3, 3, 3)).astype(np.float32))\n"
        "assert dlcore.nn.functional.conv2d(x, w).shape == (64, 8, 30, 30)\n"
    )
    env = {**os.environ, "DLCORE_LINGER_US": linger_us, "DLCORE_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m, n, k, layout", [(6, 25, 36864, "NT"), (25, 6, 36864, "TN"),
                                             (3, 40, 9001, "TT"), (2, 7, 5000, "NT")])
def test_few_long_dot_products_read_in_depth_runs(threads, m, n, k, layout):
    # A convolution's weight gradient (6 filters, 36864 pixels of a batch) is a few dot
    # products per column of a long M, computed run by run of the depth for all of them.
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        a, b = layout_operands(m, k, n, layout, seed=3)
        assert_product_and_accumulate(a, b)
    finally:
        dlcore.set_num_threads(before)
