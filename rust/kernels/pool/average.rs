//! Average pooling (windowed and adaptive): forward and backward.

use super::{adaptive_range, AdaptivePool2dParams, ColTap, Pool2dParams};
use crate::kernels::conv::par_chunks;
use crate::kernels::real::Real;
use crate::kernels::simd;

/// The divisor of every window of a plane (row-major, `H_out x W_out`): the window clipped
/// to the padded input (`count_include_pad`) or to the input, or the override; infinite for a
/// window with no input element, whose output (and share of the gradient) is then zero.
fn divisor_table<T: Real>(
    p: &Pool2dParams,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Vec<T> {
    let (oh, ow) = p.out_dims();
    let windows = p.col_windows();
    let mut table = Vec::with_capacity(oh * ow);
    for r in 0..oh {
        let (_, nh) = p.row_taps(r);
        let rf = if count_include_pad {
            p.padded_extent(r, p.stride.0, p.padding.0, p.kernel.0, p.in_h)
        } else {
            nh
        };
        for (c, &(_, nw)) in windows.iter().enumerate() {
            let cf = if count_include_pad {
                p.padded_extent(c, p.stride.1, p.padding.1, p.kernel.1, p.in_w)
            } else {
                nw
            };
            table.push(if nh == 0 || nw == 0 {
                T::INFINITY
            } else {
                T::from_f64(divisor_override.unwrap_or(rf * cf) as f64)
            });
        }
    }
    table
}

/// Rows split by column phase for a column stride `sw`: phase `q` of row `r` holds columns
/// `q, q + sw, q + 2 sw, ...` contiguously, so that a kernel column swept across an output
/// row (columns `first, first + sw, ...`) is a contiguous slice of one phase. The strided
/// access is paid once per element instead of once per kernel column, and a kernel column
/// that covers every output column of every row is one contiguous pass over the plane.
struct Phases<T> {
    sw: usize,
    rows: usize,
    width: usize,
    /// Elements per phase row: `ceil(width / sw)`.
    len: usize,
    /// Phase-major: phase `q`, row `r`, element `k` at `(q * rows + r) * len + k`.
    data: Vec<T>,
}

impl<T: Real> Phases<T> {
    fn new(rows: usize, width: usize, sw: usize) -> Self {
        let len = width.div_ceil(sw);
        Self {
            sw,
            rows,
            width,
            len,
            data: vec![T::ZERO; sw * rows * len],
        }
    }

    /// Phase `q` of every row, row after row.
    #[inline(always)]
    fn phase(&self, q: usize) -> &[T] {
        &self.data[q * self.rows * self.len..][..self.rows * self.len]
    }

    #[inline(always)]
    fn phase_mut(&mut self, q: usize) -> &mut [T] {
        &mut self.data[q * self.rows * self.len..][..self.rows * self.len]
    }

    /// The `n` elements of row `r` from column `first` on with step `sw`.
    #[inline(always)]
    fn tap(&self, r: usize, first: usize, n: usize) -> &[T] {
        &self.phase(first % self.sw)[r * self.len + first / self.sw..][..n]
    }

    #[inline(always)]
    fn tap_mut(&mut self, r: usize, first: usize, n: usize) -> &mut [T] {
        let (len, sw) = (self.len, self.sw);
        &mut self.phase_mut(first % sw)[r * len + first / sw..][..n]
    }

    /// Whether the kernel column `t` reads phase element `j` for output element `j` of a
    /// plane of `ow`-wide rows: it covers every output column and phase rows are `ow` long
    /// (then `first / sw` is 0, as the last column must stay inside the row).
    #[inline(always)]
    fn covers_plane(&self, t: &ColTap, ow: usize) -> bool {
        t.lo == 0 && t.hi == ow && self.len == ow
    }

    /// Load `rows x width` values; phase slots past a row's end are zero.
    #[inline(always)]
    fn split(&mut self, v: &[T]) {
        let (sw, n) = (self.sw, self.rows * self.len);
        if sw == 1 {
            self.data.copy_from_slice(&v[..n]);
        } else if sw == 2 && self.width.is_multiple_of(2) {
            // Even rows: the whole plane deinterleaves as one flat sequence.
            let (even, odd) = self.data.split_at_mut(n);
            for ((pair, e), o) in v.chunks_exact(2).zip(even.iter_mut()).zip(odd.iter_mut()) {
                *e = pair[0];
                *o = pair[1];
            }
        } else {
            self.data.fill(T::ZERO);
            for r in 0..self.rows {
                for (i, &x) in v[r * self.width..][..self.width].iter().enumerate() {
                    self.data[((i % sw) * self.rows + r) * self.len + i / sw] = x;
                }
            }
        }
    }

    /// Store into `rows x width` values.
    #[inline(always)]
    fn merge(&self, v: &mut [T]) {
        let (sw, n) = (self.sw, self.rows * self.len);
        if sw == 1 {
            v[..n].copy_from_slice(&self.data);
        } else if sw == 2 && self.width.is_multiple_of(2) {
            let (even, odd) = self.data.split_at(n);
            for ((pair, &e), &o) in v.chunks_exact_mut(2).zip(even).zip(odd) {
                pair[0] = e;
                pair[1] = o;
            }
        } else {
            for r in 0..self.rows {
                for (i, x) in v[r * self.width..][..self.width].iter_mut().enumerate() {
                    *x = self.data[((i % sw) * self.rows + r) * self.len + i / sw];
                }
            }
        }
    }
}

/// `dst = a + b`, elementwise.
#[inline(always)]
fn add_into<T: Real>(dst: &mut [T], a: &[T], b: &[T]) {
    for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        *d = x + y;
    }
}

/// `dst` = the sum of rows `first..last` (at least one) of `rows`, each `dst.len()` wide, in
/// order. The first two are added into `dst` directly: no copy (a call to memcpy for rows
/// this short) and one pass fewer.
#[inline(always)]
fn sum_rows<T: Real>(dst: &mut [T], rows: &[T], first: usize, last: usize) {
    let w = dst.len();
    if last - first == 1 {
        dst.copy_from_slice(&rows[first * w..][..w]);
        return;
    }
    add_into(dst, &rows[first * w..][..w], &rows[(first + 1) * w..][..w]);
    for r in first + 2..last {
        add_rows(dst, &rows[r * w..][..w]);
    }
}

/// `acc[i] += row[i]`.
#[inline(always)]
fn add_rows<T: Real>(acc: &mut [T], row: &[T]) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a += v;
    }
}

/// Forward of average pooling. `divisor_override`, when given, replaces the window size.
pub fn avg_pool2d_forward<T: Real>(
    p: &Pool2dParams,
    count_include_pad: bool,
    divisor_override: Option<usize>,
    input: &[T],
    output: &mut [T],
) -> Result<(), String> {
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("output", &p.output_shape(), output.len())?;
    if divisor_override == Some(0) {
        return Err(format!("{}: divisor_override must be non-zero", p.op));
    }
    let (oh, ow) = p.out_dims();
    let (w, plane_in, plane_out) = (p.in_w, p.in_h * p.in_w, oh * ow);
    if plane_out == 0 || p.planes() == 0 {
        return Ok(());
    }
    let per_task = p.planes_per_task();
    let divisors = divisor_table::<T>(p, count_include_pad, divisor_override);
    let taps = p.col_taps();
    par_chunks(output, per_task * plane_out, |task, out| {
        simd::dispatch(
            #[inline(always)]
            || {
                // Separable, a plane at a time: add each window's input rows into one row of
                // `sums` (contiguous vector adds), split those rows by column phase, then add
                // one contiguous slice per kernel column (the whole plane at once when the
                // column covers every output) and divide.
                let mut sums = vec![T::ZERO; oh * w];
                let mut phases = Phases::new(oh, w, p.stride.1);
                for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
                    let xp = &input[(task * per_task + pi) * plane_in..][..plane_in];
                    for (r, row) in sums.chunks_exact_mut(w).enumerate() {
                        let (ih0, nh) = p.row_taps(r);
                        if nh == 0 {
                            row.fill(T::ZERO);
                        } else {
                            sum_rows(row, xp, ih0, ih0 + nh);
                        }
                    }
                    phases.split(&sums);
                    o.fill(T::ZERO);
                    for t in &taps {
                        let n = t.hi - t.lo;
                        if n == 0 {
                            continue;
                        }
                        if phases.covers_plane(t, ow) {
                            add_rows(o, phases.phase(t.first_iw % p.stride.1));
                            continue;
                        }
                        for r in 0..oh {
                            let dst = &mut o[r * ow + t.lo..][..n];
                            add_rows(dst, phases.tap(r, t.first_iw, n));
                        }
                    }
                    for (v, &d) in o.iter_mut().zip(&divisors) {
                        *v = *v / d;
                    }
                }
            },
        )
    });
    Ok(())
}

/// Backward of average pooling: each window spreads `grad / divisor` over its input cells.
pub fn avg_pool2d_backward<T: Real>(
    p: &Pool2dParams,
    count_include_pad: bool,
    divisor_override: Option<usize>,
    grad_output: &[T],
    grad_input: &mut [T],
) -> Result<(), String> {
    p.check_len("grad_output", &p.output_shape(), grad_output.len())?;
    p.check_len("grad_input", &p.input_shape(), grad_input.len())?;
    if divisor_override == Some(0) {
        return Err(format!("{}: divisor_override must be non-zero", p.op));
    }
    let (oh, ow) = p.out_dims();
    let (w, plane_in, plane_out) = (p.in_w, p.in_h * p.in_w, oh * ow);
    if plane_in == 0 || p.planes() == 0 {
        return Ok(());
    }
    let per_task = p.planes_per_task();
    let divisors = divisor_table::<T>(p, count_include_pad, divisor_override);
    let taps = p.col_taps();
    let (kh, sh, ph) = (p.kernel.0, p.stride.0, p.padding.0);
    par_chunks(grad_input, per_task * plane_in, |task, dx| {
        simd::dispatch(
            #[inline(always)]
            || {
                // Each output row's shares spread along one input-width row of `spread` (by
                // column phase, so each kernel column is a contiguous add, over the whole
                // plane when it covers every output), then every input row is written once as
                // the sum of the spread rows of the windows that cover it: no clearing pass
                // and no scatter into the gradient.
                let mut share = vec![T::ZERO; plane_out];
                let mut spread = vec![T::ZERO; oh * w];
                let mut phases = Phases::new(oh, w, p.stride.1);
                for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
                    let g = &grad_output[(task * per_task + pi) * plane_out..][..plane_out];
                    for ((sh, &gv), &dv) in share.iter_mut().zip(g).zip(&divisors) {
                        *sh = gv / dv;
                    }
                    phases.data.fill(T::ZERO);
                    for t in &taps {
                        let n = t.hi - t.lo;
                        if n == 0 {
                            continue;
                        }
                        if phases.covers_plane(t, ow) {
                            add_rows(phases.phase_mut(t.first_iw % p.stride.1), &share);
                            continue;
                        }
                        for r in 0..oh {
                            let src = &share[r * ow + t.lo..][..n];
                            add_rows(phases.tap_mut(r, t.first_iw, n), src);
                        }
                    }
                    phases.merge(&mut spread);
                    for (ih, drow) in d.chunks_exact_mut(w).enumerate() {
                        // Output rows r with r*sh - ph <= ih <= r*sh - ph + kh - 1.
                        let first = (ih + ph + 1).saturating_sub(kh).div_ceil(sh);
                        let last = ((ih + ph) / sh + 1).min(oh);
                        if first >= last {
                            drow.fill(T::ZERO);
                            continue;
                        }
                        sum_rows(drow, &spread, first, last);
                    }
                }
            },
        )
    });
    Ok(())
}

pub fn adaptive_avg_pool2d_forward<T: Real>(
    p: &AdaptivePool2dParams,
    input: &[T],
    output: &mut [T],
) -> Result<(), String> {
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("output", &p.output_shape(), output.len())?;
    let (plane_in, plane_out) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if output.is_empty() {
        return Ok(());
    }
    let per_task = p.planes_per_task();
    par_chunks(output, per_task * plane_out, |task, out| {
        simd::dispatch(
            #[inline(always)]
            || {
                for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
                    let xp = &input[(task * per_task + pi) * plane_in..][..plane_in];
                    for r in 0..p.out_h {
                        let (h0, h1) = adaptive_range(r, p.out_h, p.in_h);
                        for c in 0..p.out_w {
                            let (w0, w1) = adaptive_range(c, p.out_w, p.in_w);
                            let mut s = T::ZERO;
                            if w0 == 0 && w1 == p.in_w {
                                // Full-width window (global pooling): its rows are contiguous.
                                s = simd::sum(&xp[h0 * p.in_w..h1 * p.in_w]);
                            } else {
                                for a in h0..h1 {
                                    s += simd::sum(&xp[a * p.in_w + w0..a * p.in_w + w1]);
                                }
                            }
                            o[r * p.out_w + c] = s / T::from_f64(((h1 - h0) * (w1 - w0)) as f64);
                        }
                    }
                }
            },
        )
    });
    Ok(())
}

pub fn adaptive_avg_pool2d_backward<T: Real>(
    p: &AdaptivePool2dParams,
    grad_output: &[T],
    grad_input: &mut [T],
) -> Result<(), String> {
    p.check_len("grad_output", &p.output_shape(), grad_output.len())?;
    p.check_len("grad_input", &p.input_shape(), grad_input.len())?;
    let (plane_in, plane_out) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if grad_input.is_empty() {
        return Ok(());
    }
    let per_task = p.planes_per_task();
    par_chunks(grad_input, per_task * plane_in, |task, dx| {
        simd::dispatch(
            #[inline(always)]
            || {
                // Windows that tile the input (global pooling among them) cover each input
                // cell once: write the shares directly instead of clearing and adding.
                let tiles = p.in_h.is_multiple_of(p.out_h) && p.in_w.is_multiple_of(p.out_w);
                if !tiles {
                    dx.fill(T::ZERO);
                }
                for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
                    let g = &grad_output[(task * per_task + pi) * plane_out..][..plane_out];
                    for r in 0..p.out_h {
                        let (h0, h1) = adaptive_range(r, p.out_h, p.in_h);
                        for c in 0..p.out_w {
                            let (w0, w1) = adaptive_range(c, p.out_w, p.in_w);
                            let share =
                                g[r * p.out_w + c] / T::from_f64(((h1 - h0) * (w1 - w0)) as f64);
                            if tiles && w0 == 0 && w1 == p.in_w {
                                // Full-width windows (global pooling): one contiguous fill.
                                d[h0 * p.in_w..h1 * p.in_w].fill(share);
                                continue;
                            }
                            for a in h0..h1 {
                                let cells = &mut d[a * p.in_w + w0..a * p.in_w + w1];
                                if tiles {
                                    cells.fill(share);
                                } else {
                                    cells.iter_mut().for_each(|v| *v += share);
                                }
                            }
                        }
                    }
                }
            },
        )
    });
    Ok(())
}
