//! Matrix-vector products: `y (+)= x @ M` for a vector `x` of length K and a `K x N` matrix
//! `M`, the products with a single row or column of output (one sample through a layer, or
//! a layer's gradient for it). A GEMM's packing and register tiles only slow these down: each
//! element of M is used once, so the product is bound by reading M, and the loops here walk M
//! in its contiguous direction:
//! - rows contiguous (`x @ W` with a row-major W): `y += x[p] * M[p, :]`, four rows at a time;
//! - columns contiguous (`x @ W^T`): `y[j] = dot(x, M[:, j])`, four columns at a time.

use super::matmul::{MatMut, MatRef};
use super::real::Real;
use super::simd;
use crate::threading;

/// The fewest elements of M each thread takes (1.5 MiB of f32, ~25 us on one core): on a
/// Zen 3, 1x512 @ 512x1024 took as long on two threads as on one, 1x1024 @ 1024x1024 45 us
/// against 64.
const MIN_PART_ELEMS: usize = 3 << 17;

/// Columns of `y` updated together while every row of M passes (16 KiB of f32: stays in
/// L1). Longer runs of each row than the 2048 before suit the prefetchers: on an Ice Lake
/// core 1x1024 @ 1024x4096 went from 650 to 580 us.
const COLUMN_BLOCK: usize = 4096;

/// Independent partial sums per column in [`columns_dot`], and the run of each row that
/// [`rows_axpy`] updates and prefetches at a time: a 512-bit register of f32.
const LANES: usize = 16;

/// `y (+)= x @ M` where `M[p, j] = m[p * rs + j]` (contiguous rows), `p < x.len()`,
/// `j < y.len()`; `m` must hold `(x.len() - 1) * rs + y.len()` elements.
pub fn rows_axpy<T: Real>(x: &[T], m: &[T], rs: usize, y: &mut [T], accumulate: bool) {
    if simd::level() == simd::Level::Portable {
        simd::dispatch(
            #[inline(always)]
            || rows_axpy_with::<T, false>(x, m, rs, y, accumulate),
        )
    } else {
        simd::dispatch(
            #[inline(always)]
            || rows_axpy_with::<T, true>(x, m, rs, y, accumulate),
        )
    }
}

/// [`rows_axpy`] with fused multiply-adds or not (see [`multiply_add`]).
#[inline(always)]
fn rows_axpy_with<T: Real, const FUSED: bool>(
    x: &[T],
    m: &[T],
    rs: usize,
    y: &mut [T],
    accumulate: bool,
) {
    if !accumulate {
        y.fill(T::ZERO);
    }
    let fma = multiply_add::<T, FUSED>;
    for (b, y) in y.chunks_mut(COLUMN_BLOCK).enumerate() {
        let (j0, w) = (b * COLUMN_BLOCK, y.len());
        let row = |p: usize| &m[p * rs + j0..][..w];
        let mut quads = x.chunks_exact(4);
        for (q, xs) in (&mut quads).enumerate() {
            let p = 4 * q;
            let rows = [row(p), row(p + 1), row(p + 2), row(p + 3)];
            let (x0, x1, x2, x3) = (xs[0], xs[1], xs[2], xs[3]);
            let add = |y: &mut [T], [a, b, c, d]: [&[T]; 4]| {
                for ((((y, &a), &b), &c), &d) in y.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                    *y = fma(x0, a, fma(x1, b, fma(x2, c, fma(x3, d, *y))));
                }
            };
            let mut runs = y.chunks_exact_mut(LANES);
            for (s, y) in (&mut runs).enumerate() {
                let at = s * LANES;
                for r in rows {
                    prefetch_run(&r[at..]);
                }
                add(y, rows.map(|r| &r[at..at + LANES]));
            }
            let done = w - runs.into_remainder().len();
            add(&mut y[done..], rows.map(|r| &r[done..]));
        }
        let done = x.len() - quads.remainder().len();
        for (i, &xp) in quads.remainder().iter().enumerate() {
            for (y, &a) in y.iter_mut().zip(row(done + i)) {
                *y = fma(xp, a, *y);
            }
        }
    }
}

/// The sum of `acc`'s lanes, halving the width each step so the adds vectorise (a serial fold
/// costs as much as a short column's whole dot product).
#[inline(always)]
fn sum_lanes<T: Real>(mut acc: [T; LANES]) -> T {
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0]
}

/// `v` in runs of [`LANES`] elements (the remainder left out).
#[inline(always)]
fn lanes<T>(v: &[T]) -> std::slice::ChunksExact<'_, T> {
    v.chunks_exact(LANES)
}

/// How far ahead of each of the four rows or columns it reads at once a product asks for
/// data: the hardware prefetchers alone left the loads waiting on L2 (on an Ice Lake core an
/// L2-resident 784 x 256 f32 matrix was read at 37 GB/s; with this at 60-80 GB/s).
const PREFETCH_BYTES: usize = 1024;

/// Hint that the cache line holding `p` will be read soon. Any address is allowed: a
/// prefetch never faults.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 only hints the cache; it reads nothing architecturally and cannot
    // fault, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Prefetch the run of [`LANES`] elements [`PREFETCH_BYTES`] past the start of `v`.
#[inline(always)]
fn prefetch_run<T>(v: &[T]) {
    let ahead = v.as_ptr().cast::<u8>().wrapping_add(PREFETCH_BYTES);
    for line in (0..LANES * std::mem::size_of::<T>()).step_by(64) {
        prefetch(ahead.wrapping_add(line));
    }
}

/// `a * b + c`, fused when `FUSED` (the dispatched instruction sets have FMA; without it
/// `mul_add` is a slow libm call, so the portable build multiplies and adds).
#[inline(always)]
fn multiply_add<T: Real, const FUSED: bool>(a: T, b: T, c: T) -> T {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `y (+)= x @ M` where `M[p, j] = m[j * cs + p]` (contiguous columns), `p < x.len()`,
/// `j < y.len()`; `m` must hold `(y.len() - 1) * cs + x.len()` elements.
pub fn columns_dot<T: Real>(x: &[T], m: &[T], cs: usize, y: &mut [T], accumulate: bool) {
    if simd::level() == simd::Level::Portable {
        simd::dispatch(
            #[inline(always)]
            || columns_dot_with::<T, false>(x, m, cs, y, accumulate),
        )
    } else {
        simd::dispatch(
            #[inline(always)]
            || columns_dot_with::<T, true>(x, m, cs, y, accumulate),
        )
    }
}

/// [`columns_dot`] with fused multiply-adds or not (see [`multiply_add`]).
#[inline(always)]
fn columns_dot_with<T: Real, const FUSED: bool>(
    x: &[T],
    m: &[T],
    cs: usize,
    y: &mut [T],
    accumulate: bool,
) {
    let (k, n) = (x.len(), y.len());
    let column = |j: usize| &m[j * cs..][..k];
    let store = |y: &mut T, s: T| *y = if accumulate { *y + s } else { s };
    let mut quads = y.chunks_exact_mut(4);
    for (q, ys) in (&mut quads).enumerate() {
        let j = 4 * q;
        let (c0, c1, c2, c3) = (column(j), column(j + 1), column(j + 2), column(j + 3));
        let mut acc = [[T::ZERO; LANES]; 4];
        for (s, ((((xs, a), b), c), d)) in lanes(x)
            .zip(lanes(c0))
            .zip(lanes(c1))
            .zip(lanes(c2))
            .zip(lanes(c3))
            .enumerate()
        {
            for col in [c0, c1, c2, c3] {
                prefetch_run(&col[s * LANES..]);
            }
            for l in 0..LANES {
                acc[0][l] = multiply_add::<T, FUSED>(xs[l], a[l], acc[0][l]);
                acc[1][l] = multiply_add::<T, FUSED>(xs[l], b[l], acc[1][l]);
                acc[2][l] = multiply_add::<T, FUSED>(xs[l], c[l], acc[2][l]);
                acc[3][l] = multiply_add::<T, FUSED>(xs[l], d[l], acc[3][l]);
            }
        }
        let tail = k - k % LANES;
        for ((y, acc), col) in ys.iter_mut().zip(&acc).zip([c0, c1, c2, c3]) {
            let s = x[tail..]
                .iter()
                .zip(&col[tail..])
                .fold(T::ZERO, |s, (&a, &b)| s + a * b);
            store(y, s + sum_lanes(*acc));
        }
    }
    let rest = quads.into_remainder();
    let done = n - rest.len();
    for (i, y) in rest.iter_mut().enumerate() {
        store(y, simd::dot(x, column(done + i)));
    }
}

/// Most output rows (or columns) that run as that many matrix-vector products, each reading
/// the matrix again, rather than as a GEMM, by the matrix's contiguous axis. On a Zen 3 (one
/// thread, GFLOP/s GEMM -> row by row) with M's rows contiguous: 2x1024 @ 1024x1024 11 -> 26,
/// 2x64 @ 64x1024 12 -> 20, 3x512 @ 512x1024 25 -> 30, 4 rows 47 -> 33; with its columns
/// contiguous (`x @ W^T`, whose GEMM transposes W while packing it): 2 rows 8 -> 22 (2x64 @
/// (1024x64)^T: 9 -> 12), 4 rows 15 -> 30, 6 rows 21 -> 29, 8 rows 34 -> 21. Each column's
/// dot product ends in a reduction, which short columns do not amortise: at a depth of 64
/// or 128, 4 and 6 rows ran 17-24 as a GEMM and 13-17 row by row, so beyond 2 rows the dot
/// products need [`DOT_DEPTH_PER_VECTOR`] of depth per row.
const AXPY_MAX_VECTORS: usize = 3;
const DOT_MAX_VECTORS: usize = 6;
const DOT_DEPTH_PER_VECTOR: usize = 128;

/// `C (+)= A @ B` as one matrix-vector product per row of C (or per column, if C has fewer
/// columns than rows), when there are few of them and the matrix operand is contiguous along
/// one of its axes; returns false, touching nothing, otherwise. The views must have passed
/// `matmul`'s checks and have `k >= 1`.
pub(crate) fn try_gemv<T: Real>(
    a: &MatRef<T>,
    b: &MatRef<T>,
    c: &mut MatMut<T>,
    accumulate: bool,
    threads: usize,
) -> bool {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    // As y = x @ M: a row of C is a row of A times B; a column of C is a column of B times
    // A^T. Strides are (along a vector, from one vector to the next).
    let (vectors, mat, x_data, (x_stride, x_step), (y_stride, y_step)) = if m <= n {
        let mat = Matrix::new(b.data, (b.row_stride, b.col_stride), n);
        let x_strides = (a.col_stride, a.row_stride);
        (m, mat, a.data, x_strides, (c.col_stride, c.row_stride))
    } else {
        let mat = Matrix::new(a.data, (a.col_stride, a.row_stride), m);
        let x_strides = (b.row_stride, b.col_stride);
        (n, mat, b.data, x_strides, (c.row_stride, c.col_stride))
    };
    let most = if mat.rows_contiguous() {
        AXPY_MAX_VECTORS
    } else if mat.rs == 1 {
        (k / DOT_DEPTH_PER_VECTOR).clamp(2, DOT_MAX_VECTORS)
    } else {
        0
    };
    if vectors > most {
        return false;
    }
    if vectors >= 2 && !mat.rows_contiguous() {
        let xs = (x_data, x_stride, x_step);
        let ys = (&mut *c.data, y_stride, y_step);
        dots_by_depth_runs(xs, vectors, mat, ys, k, accumulate, threads);
        return true;
    }
    for v in 0..vectors {
        let x = &x_data[v * x_step..];
        let y = &mut c.data[v * y_step..];
        one_vector((x, x_stride), mat, (y, y_stride), k, accumulate, threads);
    }
    true
}

/// Depth of the runs in which [`dots_by_depth_runs`] passes every vector over a large M's
/// columns: 16 KiB of each f32 column, so a run of a few dozen columns stays in L2 for the
/// vectors after the first.
const DEPTH_RUN: usize = 4096;

/// Bytes of M below which [`dots_by_depth_runs`] does not cut the depth into runs.
const CACHED_BYTES: usize = 1 << 20;

/// `y_v (+)= x_v @ M` for `vectors` strided vectors (`x_v[p] = x[v * x_step + p * x_stride]`,
/// likewise `y`) with M's columns contiguous, reading M from memory once: run by run of its
/// depth, every vector's [`columns_dot`] passes over the run while it is in cache. (One
/// whole product per vector read a 6 x 36864 @ 36864 x 25 weight gradient's M six times
/// from L3.) Threads take runs of the depth and sum their results at the end.
fn dots_by_depth_runs<T: Real>(
    (x, x_stride, x_step): (&[T], usize, usize),
    vectors: usize,
    mat: Matrix<T>,
    (y, y_stride, y_step): (&mut [T], usize, usize),
    k: usize,
    accumulate: bool,
    threads: usize,
) {
    let Matrix { data, cs, len, .. } = mat;
    let gathered: Vec<T>;
    let (x, x_step) = if x_stride == 1 {
        (x, x_step)
    } else {
        gathered = (0..vectors)
            .flat_map(|v| (0..k).map(move |p| x[v * x_step + p * x_stride]))
            .collect();
        (&gathered[..], k)
    };
    let work = k.saturating_mul(len).saturating_mul(vectors);
    let wanted = threads.min(work / MIN_PART_ELEMS).max(1);
    // An M that stays in L2 anyway is read whole by each vector (shorter runs only add
    // reductions: 6 x 9216 @ 9216 x 25 ran 83 -> 109 us on one thread).
    let cached = k
        .saturating_mul(len)
        .saturating_mul(std::mem::size_of::<T>())
        <= CACHED_BYTES;
    let run = if cached {
        k.div_ceil(wanted)
    } else {
        DEPTH_RUN
    };
    let runs = k.div_ceil(run);
    let parts = wanted.min(runs);
    let runs_per_part = runs.div_ceil(parts);
    let parts = runs.div_ceil(runs_per_part); // none left empty
                                              // Part t's sums, vector by vector: sums[t][v][j].
    let mut sums = vec![T::ZERO; parts * vectors * len];
    let part_sums = sums.chunks_mut(vectors * len).collect();
    threading::each_part_in_place(part_sums, |t, out: &mut [T]| {
        let first = t * runs_per_part * run;
        let end = ((t + 1) * runs_per_part * run).min(k);
        for start in (first..end).step_by(run) {
            let depth = start..(start + run).min(end);
            for (v, y) in out.chunks_mut(len).enumerate() {
                let x = &x[v * x_step..][depth.clone()];
                columns_dot(x, &data[start..], cs, y, start > first);
            }
        }
    });
    for v in 0..vectors {
        for j in 0..len {
            let total = (0..parts).fold(T::ZERO, |s, t| s + sums[(t * vectors + v) * len + j]);
            let y = &mut y[v * y_step + j * y_stride];
            *y = if accumulate { *y + total } else { total };
        }
    }
}

/// M, the `k x len` matrix of `y = x @ M`: `M[p, j] = data[p * rs + j * cs]`.
#[derive(Clone, Copy)]
struct Matrix<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
    len: usize,
}

impl<'a, T> Matrix<'a, T> {
    fn new(data: &'a [T], (rs, cs): (usize, usize), len: usize) -> Self {
        Self { data, rs, cs, len }
    }

    /// Whether the loops go along M's rows ([`rows_axpy`]) rather than its columns.
    fn rows_contiguous(&self) -> bool {
        self.cs == 1 && self.len > 1
    }
}

/// `y (+)= x @ M` for a strided `x` of length `k` and `y` of `mat.len`, where `mat` has a
/// contiguous axis, split across up to `threads` threads when M is large.
fn one_vector<T: Real>(
    (x, x_stride): (&[T], usize),
    mat: Matrix<T>,
    (y, y_stride): (&mut [T], usize),
    k: usize,
    accumulate: bool,
    threads: usize,
) {
    let Matrix { data, rs, cs, len } = mat;
    let gathered: Vec<T>;
    let x = if x_stride == 1 {
        &x[..k]
    } else {
        gathered = (0..k).map(|p| x[p * x_stride]).collect();
        &gathered
    };
    let split = |y: &mut [T]| {
        let parts = threads.min(k.saturating_mul(len) / MIN_PART_ELEMS).min(k);
        if mat.rows_contiguous() {
            if parts < 2 {
                return rows_axpy(x, data, rs, y, accumulate);
            }
            // Runs of M's rows (contiguous memory): the first adds into y, the others into
            // zeroed buffers summed into y afterwards.
            let step = k.div_ceil(parts);
            let parts = k.div_ceil(step); // none left empty
            let mut partial = vec![T::ZERO; (parts - 1) * len];
            let outs = std::iter::once(&mut *y)
                .chain(partial.chunks_mut(len))
                .collect();
            threading::each_part_in_place(outs, |t, out: &mut [T]| {
                let rows = t * step..((t + 1) * step).min(k);
                let m = &data[rows.start * rs..];
                rows_axpy(&x[rows], m, rs, out, accumulate || t > 0);
            });
            for part in partial.chunks(len) {
                y.iter_mut().zip(part).for_each(|(y, &v)| *y += v);
            }
        } else if parts < 2 {
            columns_dot(x, data, cs, y, accumulate);
        } else {
            // Runs of M's columns, each contiguous, each into its own part of y.
            let step = len.div_ceil(parts);
            let outs = y.chunks_mut(step).collect();
            threading::each_part_in_place(outs, |t, out: &mut [T]| {
                columns_dot(x, &data[t * step * cs..], cs, out, accumulate);
            });
        }
    };
    if y_stride == 1 {
        split(&mut y[..len]);
    } else {
        let mut dense: Vec<T> = if accumulate {
            (0..len).map(|j| y[j * y_stride]).collect()
        } else {
            vec![T::ZERO; len]
        };
        split(&mut dense);
        for (j, v) in dense.into_iter().enumerate() {
            y[j * y_stride] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x @ M` in f64, with `M[p, j] = at(p, j)`.
    fn naive(x: &[f64], n: usize, at: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        (0..n)
            .map(|j| x.iter().enumerate().map(|(p, &v)| v * at(p, j)).sum())
            .collect()
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len)
            .map(|i| (((i as u64 + 1) * (seed * 2 + 7919)) % 1009) as f64 / 504.5 - 1.0)
            .collect()
    }

    /// `run(y, accumulate)` must add `want` to y, or overwrite y (NaN before) with it.
    fn assert_adds_and_overwrites(n: usize, want: &[f64], run: impl Fn(&mut [f64], bool)) {
        let before = values(n, 3);
        let mut y = before.clone();
        run(&mut y, true);
        for j in 0..n {
            assert!((y[j] - before[j] - want[j]).abs() < 1e-12, "{n} {j}");
        }
        let mut y = vec![f64::NAN; n];
        run(&mut y, false);
        for j in 0..n {
            assert!((y[j] - want[j]).abs() < 1e-12, "{n} {j}");
        }
    }

    #[test]
    fn rows_axpy_matches_naive_across_row_quads_and_column_blocks() {
        // Depths around the four-row step, widths around the 16-column run and the column
        // block, padded rows.
        for (k, n, rs) in [
            (1, 1, 1),
            (3, 5, 7),
            (4, 16, 16),
            (6, 23, 29),
            (9, 2049, 2050),
            (13, 4100, 4100),
        ] {
            let x = values(k, 1);
            let m = values((k - 1) * rs + n, 2);
            let want = naive(&x, n, |p, j| m[p * rs + j]);
            assert_adds_and_overwrites(n, &want, |y, acc| rows_axpy(&x, &m, rs, y, acc));
        }
    }

    #[test]
    fn columns_dot_matches_naive_across_lanes_and_column_quads() {
        // Depths around the 16 partial sums, widths around the four-column step.
        for (k, n, cs) in [
            (1, 1, 1),
            (15, 3, 15),
            (16, 4, 17),
            (33, 7, 40),
            (100, 9, 100),
        ] {
            let x = values(k, 4);
            let m = values((n - 1) * cs + k, 5);
            let want = naive(&x, n, |p, j| m[j * cs + p]);
            assert_adds_and_overwrites(n, &want, |y, acc| columns_dot(&x, &m, cs, y, acc));
        }
    }

    #[test]
    fn several_dot_products_over_depth_runs_match_naive() {
        // A @ B with B column-major (its columns are M's), few rows of A: every vector passes
        // over M run by run. Depths around the run, an M past CACHED_BYTES (9000 x 40 f64 is
        // 2.9 MB: three runs, the last partial) and one that stays whole; row-major and
        // transposed (strided) A; C written and accumulated, row- and column-major; 1 and 2
        // threads.
        for (m, n, k) in [(2, 9, 300), (6, 40, 9000), (3, 5, 4097), (4, 33, 8192)] {
            let a = values(m * k, 6);
            let b = values(k * n, 7);
            let base = values(m * n, 8);
            let naive_c =
                |i: usize, j: usize| -> f64 { (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum() };
            for a_transposed in [false, true] {
                let a_data: Vec<f64> = if a_transposed {
                    (0..k * m).map(|q| a[(q % m) * k + q / m]).collect()
                } else {
                    a.clone()
                };
                let (rs, cs) = if a_transposed { (1, m) } else { (k, 1) };
                let a_view = MatRef {
                    data: &a_data,
                    rows: m,
                    cols: k,
                    row_stride: rs,
                    col_stride: cs,
                };
                let b_view = MatRef {
                    data: &b,
                    rows: k,
                    cols: n,
                    row_stride: 1,
                    col_stride: k,
                };
                for (accumulate, c_col_major, threads) in [
                    (false, false, 1),
                    (true, false, 2),
                    (false, true, 2),
                    (true, true, 1),
                ] {
                    let (c_rs, c_cs) = if c_col_major { (1, m) } else { (n, 1) };
                    let mut out = base.clone();
                    let mut c = MatMut {
                        data: &mut out,
                        rows: m,
                        cols: n,
                        row_stride: c_rs,
                        col_stride: c_cs,
                    };
                    assert!(try_gemv(&a_view, &b_view, &mut c, accumulate, threads));
                    for i in 0..m {
                        for j in 0..n {
                            let at = i * c_rs + j * c_cs;
                            let want = naive_c(i, j) + if accumulate { base[at] } else { 0.0 };
                            let got = out[at];
                            assert!(
                                (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
                                "{m}x{n}x{k} a^T {a_transposed} acc {accumulate} at ({i}, {j})"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_few_rows_or_columns_with_a_contiguous_matrix_take_this_path() {
        let data = vec![1.0f32; 8 * 768];
        let view = |rows, cols, row_stride, col_stride| MatRef {
            data: &data,
            rows,
            cols,
            row_stride,
            col_stride,
        };
        let mut out = vec![0.0f32; 64];
        let mut takes = |a: MatRef<f32>, b: MatRef<f32>| {
            let (rows, cols) = (a.rows, b.cols);
            let mut c = MatMut {
                data: &mut out,
                rows,
                cols,
                row_stride: cols,
                col_stride: 1,
            };
            try_gemv(&a, &b, &mut c, false, 1)
        };
        let row_major = |rows, cols| view(rows, cols, cols, 1);
        let col_major = |rows, cols| view(rows, cols, 1, rows);
        // Rows of C against a row-major B (axpys) or a column-major one (dot products, up to
        // 6 over a depth of 768, only 2 over a depth of 4).
        assert!(takes(row_major(3, 4), row_major(4, 8)));
        assert!(!takes(row_major(4, 4), row_major(4, 8)));
        assert!(takes(row_major(6, 768), col_major(768, 8)));
        assert!(!takes(row_major(7, 768), col_major(768, 8)));
        assert!(takes(row_major(2, 4), col_major(4, 8)));
        assert!(!takes(row_major(3, 4), col_major(4, 8)));
        // Columns of C: A^T is the matrix, so a row-major A gives dot products.
        assert!(takes(row_major(8, 768), row_major(768, 6)));
        assert!(!takes(row_major(8, 768), row_major(768, 7)));
        assert!(takes(col_major(8, 4), row_major(4, 3)));
        assert!(!takes(col_major(8, 4), row_major(4, 4)));
        // B strided both ways.
        assert!(!takes(row_major(1, 4), view(4, 4, 8, 2)));
    }
}
