//! Direct convolution loops, for depthwise convolutions, whose per-group GEMM would have a
//! single row: every kernel tap is a row-wise axpy or dot product over a plane that stays in
//! L1. They are correct for any geometry (the tests run them on all).

use super::im2col::{input_row, spans};
use super::{par_chunks, Conv2dGrads, Conv2dParams};
use crate::kernels::real::Real;
use crate::kernels::simd;

/// Multiply-adds per parallel task below which a task is not split further.
const GRAIN_MACS: usize = 1 << 16;

/// `y[i] += a * x[i * stride]` for every `i`.
#[inline(always)]
fn axpy_strided<T: Real>(a: T, x: &[T], stride: usize, y: &mut [T]) {
    if stride == 1 {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi += a * xi;
        }
    } else {
        for (yi, &xi) in y.iter_mut().zip(x.iter().step_by(stride)) {
            *yi += a * xi;
        }
    }
}

/// `y[i * stride] += a * x[i]` for every `i` of `x`.
#[inline(always)]
fn scatter_axpy<T: Real>(a: T, x: &[T], stride: usize, y: &mut [T]) {
    if stride == 1 {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi += a * xi;
        }
    } else {
        for (yi, &xi) in y.iter_mut().step_by(stride).zip(x) {
            *yi += a * xi;
        }
    }
}

/// `sum_i a[i] * b[i * stride]`.
#[inline(always)]
fn dot_strided<T: Real>(a: &[T], b: &[T], stride: usize) -> T {
    if stride == 1 {
        simd::dot(a, &b[..a.len()])
    } else {
        let mut s = T::ZERO;
        for (&x, &y) in a.iter().zip(b.iter().step_by(stride)) {
            s += x * y;
        }
        s
    }
}

fn taps(p: &Conv2dParams) -> usize {
    p.cin_g() * p.kernel.0 * p.kernel.1
}

/// Forward: one task per run of output planes `(n, c_out)`.
pub fn forward<T: Real>(p: &Conv2dParams, x: &[T], w: &[T], bias: Option<&[T]>, out: &mut [T]) {
    let (oh_n, ow_n) = p.out_dims();
    let pix = oh_n * ow_n;
    let plane_in = p.in_h * p.in_w;
    let (kh_n, kw_n) = p.kernel;
    let spans = spans(p);
    let planes_per_task = (GRAIN_MACS / (pix * taps(p)).max(1)).max(1);
    par_chunks(out, planes_per_task * pix, |task, chunk| {
        simd::dispatch(
            #[inline(always)]
            || {
                for (i, o) in chunk.chunks_exact_mut(pix).enumerate() {
                    let plane = task * planes_per_task + i;
                    let (n, co) = (plane / p.out_channels, plane % p.out_channels);
                    let g = co / p.cout_g();
                    o.fill(bias.map_or(T::ZERO, |b| b[co]));
                    for ci in 0..p.cin_g() {
                        let c = g * p.cin_g() + ci;
                        let xc = &x[(n * p.in_channels + c) * plane_in..][..plane_in];
                        let wc = &w[(co * p.cin_g() + ci) * kh_n * kw_n..][..kh_n * kw_n];
                        for kh in 0..kh_n {
                            for (kw, s) in spans.iter().enumerate() {
                                let wv = wc[kh * kw_n + kw];
                                for oh in 0..oh_n {
                                    let Some(ih) = input_row(p, oh, kh) else {
                                        continue;
                                    };
                                    let dst = &mut o[oh * ow_n + s.lo..oh * ow_n + s.hi];
                                    let src = &xc[ih * p.in_w + s.first_iw..(ih + 1) * p.in_w];
                                    axpy_strided(wv, src, p.stride.1, dst);
                                }
                            }
                        }
                    }
                }
            },
        )
    });
}

/// Backward: the input gradient one input plane at a time, then weight and bias gradients
/// one output channel at a time (each sums over the batch, so tasks never share an output).
pub fn backward<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    grads: Conv2dGrads<T>,
) {
    let (oh_n, ow_n) = p.out_dims();
    let pix = oh_n * ow_n;
    let plane_in = p.in_h * p.in_w;
    let (kh_n, kw_n) = p.kernel;
    let spans = spans(p);
    let macs_per_plane = pix * p.cout_g() * kh_n * kw_n;
    if let Some(dx) = grads.input {
        let planes_per_task = (GRAIN_MACS / macs_per_plane.max(1)).max(1);
        par_chunks(dx, planes_per_task * plane_in, |task, chunk| {
            simd::dispatch(
                #[inline(always)]
                || {
                    for (i, d) in chunk.chunks_exact_mut(plane_in).enumerate() {
                        let plane = task * planes_per_task + i;
                        let (n, c) = (plane / p.in_channels, plane % p.in_channels);
                        let (g, ci) = (c / p.cin_g(), c % p.cin_g());
                        d.fill(T::ZERO);
                        for co in g * p.cout_g()..(g + 1) * p.cout_g() {
                            let go = &grad_out[(n * p.out_channels + co) * pix..][..pix];
                            let wc = &w[(co * p.cin_g() + ci) * kh_n * kw_n..][..kh_n * kw_n];
                            for kh in 0..kh_n {
                                for (kw, s) in spans.iter().enumerate() {
                                    let wv = wc[kh * kw_n + kw];
                                    for oh in 0..oh_n {
                                        let Some(ih) = input_row(p, oh, kh) else {
                                            continue;
                                        };
                                        let src = &go[oh * ow_n + s.lo..oh * ow_n + s.hi];
                                        let dst =
                                            &mut d[ih * p.in_w + s.first_iw..(ih + 1) * p.in_w];
                                        scatter_axpy(wv, src, p.stride.1, dst);
                                    }
                                }
                            }
                        }
                    }
                },
            )
        });
    }
    let wlen = p.cin_g() * kh_n * kw_n;
    if let Some(dw) = grads.weight {
        let work = p.batch * pix * wlen;
        let per_task = (GRAIN_MACS / work.max(1)).max(1);
        par_chunks(dw, per_task * wlen, |task, chunk| {
            simd::dispatch(
                #[inline(always)]
                || {
                    for (i, dwc) in chunk.chunks_exact_mut(wlen).enumerate() {
                        let co = task * per_task + i;
                        let g = co / p.cout_g();
                        dwc.fill(T::ZERO);
                        for n in 0..p.batch {
                            let go = &grad_out[(n * p.out_channels + co) * pix..][..pix];
                            for ci in 0..p.cin_g() {
                                let c = g * p.cin_g() + ci;
                                let xc = &x[(n * p.in_channels + c) * plane_in..][..plane_in];
                                for kh in 0..kh_n {
                                    for (kw, s) in spans.iter().enumerate() {
                                        let mut acc = T::ZERO;
                                        for oh in 0..oh_n {
                                            let Some(ih) = input_row(p, oh, kh) else {
                                                continue;
                                            };
                                            let a = &go[oh * ow_n + s.lo..oh * ow_n + s.hi];
                                            let b =
                                                &xc[ih * p.in_w + s.first_iw..(ih + 1) * p.in_w];
                                            acc += dot_strided(a, b, p.stride.1);
                                        }
                                        dwc[(ci * kh_n + kh) * kw_n + kw] += acc;
                                    }
                                }
                            }
                        }
                    }
                },
            )
        });
    }
    if let Some(db) = grads.bias {
        super::bias_grad(p, grad_out, db);
    }
}
