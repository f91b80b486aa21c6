//! Average pooling (windowed and adaptive): forward and backward.

use super::{AdaptivePool2dParams, Pool2dParams, GRAIN};
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

/// A row split by column phase for a column stride `sw`: phase `q` holds columns
/// `q, q + sw, q + 2 sw, ...` contiguously, so that a kernel column swept across the output
/// row (columns `first, first + sw, ...`) is a contiguous slice of one phase. The strided
/// access is paid once per row element instead of once per kernel column.
struct Phases<T> {
    sw: usize,
    len: usize,
    data: Vec<T>,
}

impl<T: Real> Phases<T> {
    fn new(width: usize, sw: usize) -> Self {
        let len = width.div_ceil(sw);
        Self {
            sw,
            len,
            data: vec![T::ZERO; sw * len],
        }
    }

    /// The `n` elements from column `first` on with step `sw`.
    #[inline(always)]
    fn tap(&self, first: usize, n: usize) -> &[T] {
        &self.data[(first % self.sw) * self.len + first / self.sw..][..n]
    }

    #[inline(always)]
    fn tap_mut(&mut self, first: usize, n: usize) -> &mut [T] {
        &mut self.data[(first % self.sw) * self.len + first / self.sw..][..n]
    }

    /// Load `row`; phase slots past the row's end are zero.
    #[inline(always)]
    fn split(&mut self, row: &[T]) {
        if self.sw == 1 {
            self.data.copy_from_slice(row);
            return;
        }
        if self.sw == 2 {
            let (even, odd) = self.data.split_at_mut(self.len);
            for ((pair, e), o) in row.chunks_exact(2).zip(even.iter_mut()).zip(odd.iter_mut()) {
                *e = pair[0];
                *o = pair[1];
            }
            if row.len() % 2 == 1 {
                even[self.len - 1] = row[row.len() - 1];
                odd[self.len - 1] = T::ZERO;
            }
            return;
        }
        self.data.fill(T::ZERO);
        for (i, &v) in row.iter().enumerate() {
            self.data[(i % self.sw) * self.len + i / self.sw] = v;
        }
    }

    /// Store into `row`.
    #[inline(always)]
    fn merge(&self, row: &mut [T]) {
        if self.sw == 1 {
            row.copy_from_slice(&self.data);
            return;
        }
        if self.sw == 2 {
            let (even, odd) = self.data.split_at(self.len);
            for ((pair, &e), &o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
                pair[0] = e;
                pair[1] = o;
            }
            if row.len() % 2 == 1 {
                let last = row.len() - 1;
                row[last] = even[self.len - 1];
            }
            return;
        }
        for (i, v) in row.iter_mut().enumerate() {
            *v = self.data[(i % self.sw) * self.len + i / self.sw];
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
                // Separable: add the window's input rows into one row (contiguous vector adds),
                // split it by column phase, then add one contiguous slice per kernel column.
                let mut rows = vec![T::ZERO; w];
                let mut phases = Phases::new(w, p.stride.1);
                for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
                    let xp = &input[(task * per_task + pi) * plane_in..][..plane_in];
                    for r in 0..oh {
                        let (ih0, nh) = p.row_taps(r);
                        let s = &mut o[r * ow..][..ow];
                        s.fill(T::ZERO);
                        if nh == 0 {
                            continue;
                        }
                        sum_rows(&mut rows, xp, ih0, ih0 + nh);
                        phases.split(&rows);
                        for t in &taps {
                            add_rows(&mut s[t.lo..t.hi], phases.tap(t.first_iw, t.hi - t.lo));
                        }
                        for (v, &d) in s.iter_mut().zip(&divisors[r * ow..][..ow]) {
                            *v = *v / d;
                        }
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
                // Each output row's shares spread along one input-width row (`spread`, in L1;
                // by column phase, so each kernel column is a contiguous add), then every
                // input row is written once as the sum of the spread rows of the windows that
                // cover it: no clearing pass and no scatter into the gradient.
                let mut share = vec![T::ZERO; ow];
                let mut spread = vec![T::ZERO; oh * w];
                let mut phases = Phases::new(w, p.stride.1);
                for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
                    let g = &grad_output[(task * per_task + pi) * plane_out..][..plane_out];
                    for r in 0..oh {
                        let (g, div) = (&g[r * ow..][..ow], &divisors[r * ow..][..ow]);
                        for ((sh, &gv), &dv) in share.iter_mut().zip(g).zip(div) {
                            *sh = gv / dv;
                        }
                        phases.data.fill(T::ZERO);
                        for t in &taps {
                            let n = t.hi - t.lo;
                            add_rows(phases.tap_mut(t.first_iw, n), &share[t.lo..t.hi]);
                        }
                        phases.merge(&mut spread[r * w..][..w]);
                    }
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

/// `floor(i * size / out) .. ceil((i + 1) * size / out)`.
#[inline(always)]
fn adaptive_range(i: usize, out: usize, size: usize) -> (usize, usize) {
    (i * size / out, ((i + 1) * size).div_ceil(out))
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
    let per_task = (GRAIN / plane_in.max(plane_out)).max(1);
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
    let per_task = (GRAIN / plane_in.max(plane_out)).max(1);
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
