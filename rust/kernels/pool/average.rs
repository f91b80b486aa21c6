//! Average pooling (windowed and adaptive): forward and backward.

use super::{AdaptivePool2dParams, Pool2dParams, GRAIN};
use crate::kernels::conv::par_chunks;
use crate::kernels::real::Real;
use crate::kernels::simd;

/// Per output column: the divisor's column factor and whether the window has any input.
/// The divisor of window `(r, c)` is `row_factor(r) * col_factor(c)`, or the override.
struct Divisors {
    cols: Vec<usize>,
    nonempty: Vec<bool>,
}

impl Divisors {
    fn new(p: &Pool2dParams, count_include_pad: bool) -> Self {
        let windows = p.col_windows();
        let cols = (0..windows.len())
            .zip(&windows)
            .map(|(c, &(_, nw))| {
                if count_include_pad {
                    p.padded_extent(c, p.stride.1, p.padding.1, p.kernel.1, p.in_w)
                } else {
                    nw
                }
            })
            .collect();
        let nonempty = windows.iter().map(|&(_, nw)| nw > 0).collect();
        Self { cols, nonempty }
    }

    fn row_factor(p: &Pool2dParams, r: usize, nh: usize, count_include_pad: bool) -> usize {
        if count_include_pad {
            p.padded_extent(r, p.stride.0, p.padding.0, p.kernel.0, p.in_h)
        } else {
            nh
        }
    }
}

/// `sums[j] += src[j * stride]`; `SW` is the stride when known at compile time, else 0.
#[inline(always)]
fn add_strided<T: Real, const SW: usize>(sums: &mut [T], src: &[T], stride: usize) {
    let sw = if SW == 0 { stride } else { SW };
    let n = sums.len();
    if n == 0 {
        return;
    }
    let src = &src[..(n - 1) * sw + 1];
    for j in 0..n {
        sums[j] += src[j * sw];
    }
}

/// `dst[j * stride] += src[j]`; `SW` as in [`add_strided`].
#[inline(always)]
fn scatter_add<T: Real, const SW: usize>(dst: &mut [T], src: &[T], stride: usize) {
    let sw = if SW == 0 { stride } else { SW };
    let n = src.len();
    if n == 0 {
        return;
    }
    let dst = &mut dst[..(n - 1) * sw + 1];
    for j in 0..n {
        dst[j * sw] += src[j];
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
    let div = Divisors::new(p, count_include_pad);
    let taps = p.col_taps();
    par_chunks(output, per_task * plane_out, |task, out| {
        simd::dispatch(
            #[inline(always)]
            || {
                // Separable: add the window's input rows into one row (contiguous vector adds),
                // then sweep each kernel column across it: kw strided passes per output row
                // instead of kh * kw.
                let mut rows = vec![T::ZERO; w];
                for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
                    let xp = &input[(task * per_task + pi) * plane_in..][..plane_in];
                    for r in 0..oh {
                        let (ih0, nh) = p.row_taps(r);
                        let s = &mut o[r * ow..][..ow];
                        s.fill(T::ZERO);
                        if nh > 0 {
                            rows.copy_from_slice(&xp[ih0 * w..][..w]);
                            for ih in ih0 + 1..ih0 + nh {
                                add_rows(&mut rows, &xp[ih * w..][..w]);
                            }
                            for t in &taps {
                                let (sums, src) = (&mut s[t.lo..t.hi], &rows[t.first_iw..]);
                                // Constant strides let LLVM vectorise the (interleaved) loads.
                                match p.stride.1 {
                                    1 => add_strided::<T, 1>(sums, src, 1),
                                    2 => add_strided::<T, 2>(sums, src, 2),
                                    sw => add_strided::<T, 0>(sums, src, sw),
                                }
                            }
                        }
                        let rf = Divisors::row_factor(p, r, nh, count_include_pad);
                        for ((sv, &cf), &ok) in s.iter_mut().zip(&div.cols).zip(&div.nonempty) {
                            let d = divisor_override.unwrap_or(rf * cf);
                            *sv = if ok && nh > 0 {
                                *sv / T::from_f64(d as f64)
                            } else {
                                T::ZERO
                            };
                        }
                    }
                }
            },
        )
    });
    Ok(())
}

/// `acc[i] += row[i]`.
#[inline(always)]
fn add_rows<T: Real>(acc: &mut [T], row: &[T]) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a += v;
    }
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
    let div = Divisors::new(p, count_include_pad);
    let taps = p.col_taps();
    let (kh, sh, ph) = (p.kernel.0, p.stride.0, p.padding.0);
    par_chunks(grad_input, per_task * plane_in, |task, dx| {
        simd::dispatch(
            #[inline(always)]
            || {
                // Each output row's shares spread along one input-width row (`spread`, in L1),
                // then every input row is written once as the sum of the spread rows of the
                // windows that cover it: no clearing pass and no scatter into the gradient.
                let mut share = vec![T::ZERO; ow];
                let mut spread = vec![T::ZERO; oh * w];
                for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
                    let g = &grad_output[(task * per_task + pi) * plane_out..][..plane_out];
                    for r in 0..oh {
                        let (_, nh) = p.row_taps(r);
                        let rf = Divisors::row_factor(p, r, nh, count_include_pad);
                        let cells = share.iter_mut().zip(&g[r * ow..][..ow]);
                        for ((sh, &gv), &cf) in cells.zip(&div.cols) {
                            *sh = gv / T::from_f64(divisor_override.unwrap_or(rf * cf) as f64);
                        }
                        let row = &mut spread[r * w..][..w];
                        row.fill(T::ZERO);
                        for t in &taps {
                            let (dst, src) = (&mut row[t.first_iw..], &share[t.lo..t.hi]);
                            match p.stride.1 {
                                1 => scatter_add::<T, 1>(dst, src, 1),
                                2 => scatter_add::<T, 2>(dst, src, 2),
                                sw => scatter_add::<T, 0>(dst, src, sw),
                            }
                        }
                    }
                    for (ih, drow) in d.chunks_exact_mut(w).enumerate() {
                        // Output rows r with r*sh - ph <= ih <= r*sh - ph + kh - 1.
                        let first = (ih + ph + 1).saturating_sub(kh).div_ceil(sh);
                        let last = ((ih + ph) / sh + 1).min(oh);
                        if first >= last {
                            drow.fill(T::ZERO);
                            continue;
                        }
                        drow.copy_from_slice(&spread[first * w..][..w]);
                        for r in first + 1..last {
                            add_rows(drow, &spread[r * w..][..w]);
                        }
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
