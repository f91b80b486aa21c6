//! Depthwise unit-stride convolutions (one input and one output channel per group) as a
//! handful of long vector operations per plane.
//!
//! Index the output "wide" over the padded plane, `j = oh * Wp + ow` (see `shifted`): kernel
//! tap `(kh, kw)` then reads the padded plane at `j + kh*dh*Wp + kw*dw`, so the whole output
//! plane is `sum_t w_t * xp[off_t ..]`: `KH*KW` axpys over the plane instead of one short
//! axpy per output row and tap. The input gradient is the same sum transposed (axpys into
//! the padded gradient), the weight gradient `KH*KW` dot products per plane.

use super::{par_chunks, Conv2dGrads, Conv2dParams};
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::Workspace;

/// Depthwise (one channel in and out per group) with unit stride.
pub fn applies(p: &Conv2dParams) -> bool {
    p.cin_g() == 1 && p.cout_g() == 1 && p.stride == (1, 1)
}

/// Elements per parallel task below which a task is not split further.
const GRAIN: usize = 1 << 14;

#[derive(Clone, Copy)]
struct Plane {
    hp: usize,
    wp: usize,
    oh: usize,
    ow: usize,
    /// Wide output length: full padded rows except the last, cut at `W_out`.
    len: usize,
}

impl Plane {
    fn new(p: &Conv2dParams) -> Self {
        let (oh, ow) = p.out_dims();
        let wp = p.in_w + p.padding[2] + p.padding[3];
        Self {
            hp: p.in_h + p.padding[0] + p.padding[1],
            wp,
            oh,
            ow,
            len: (oh - 1) * wp + ow,
        }
    }

    fn offsets(&self, p: &Conv2dParams) -> Vec<usize> {
        let (kh, kw) = p.kernel;
        (0..kh * kw)
            .map(|t| (t / kw) * p.dilation.0 * self.wp + (t % kw) * p.dilation.1)
            .collect()
    }
}

/// `xp` = the plane `x` with its zero padding.
#[inline(always)]
fn pad<T: Real>(p: &Conv2dParams, g: &Plane, x: &[T], xp: &mut [T]) {
    let (top, left) = (p.padding[0], p.padding[2]);
    xp[..top * g.wp].fill(T::ZERO);
    xp[(top + p.in_h) * g.wp..].fill(T::ZERO);
    for (r, row) in x.chunks_exact(p.in_w).enumerate() {
        let d = &mut xp[(top + r) * g.wp..(top + r + 1) * g.wp];
        d[..left].fill(T::ZERO);
        d[left..left + p.in_w].copy_from_slice(row);
        d[left + p.in_w..].fill(T::ZERO);
    }
}

/// The wide form of an output-sized plane: zeros in the wrap-around columns.
#[inline(always)]
fn widen<T: Real>(g: &Plane, plane: &[T], wide: &mut [T]) {
    for (r, row) in plane.chunks_exact(g.ow).enumerate() {
        let d = &mut wide[r * g.wp..];
        d[..g.ow].copy_from_slice(row);
        if r + 1 < g.oh {
            d[g.ow..g.wp].fill(T::ZERO);
        }
    }
}

pub fn forward<T: Real>(p: &Conv2dParams, x: &[T], w: &[T], bias: Option<&[T]>, out: &mut [T]) {
    let g = Plane::new(p);
    let offsets = g.offsets(p);
    let taps = offsets.len();
    let (plane_in, plane_out) = (p.in_h * p.in_w, g.oh * g.ow);
    let per_task = (GRAIN / (g.len * taps).max(1)).max(1);
    par_chunks(out, per_task * plane_out, |task, chunk| {
        let mut xp = Workspace::<T>::take(g.hp * g.wp);
        let mut wide = Workspace::<T>::take(g.len);
        simd::dispatch(
            #[inline(always)]
            || {
                for (i, o) in chunk.chunks_exact_mut(plane_out).enumerate() {
                    let plane = task * per_task + i;
                    let c = plane % p.out_channels;
                    pad(p, &g, &x[plane * plane_in..][..plane_in], &mut xp);
                    let wc = &w[c * taps..][..taps];
                    let wide = &mut wide[..];
                    let b = bias.map_or(T::ZERO, |b| b[c]);
                    wide.fill(b);
                    for (&wv, &off) in wc.iter().zip(&offsets) {
                        for (d, &v) in wide.iter_mut().zip(&xp[off..off + g.len]) {
                            *d += wv * v;
                        }
                    }
                    for (r, row) in o.chunks_exact_mut(g.ow).enumerate() {
                        row.copy_from_slice(&wide[r * g.wp..r * g.wp + g.ow]);
                    }
                }
            },
        )
    });
}

pub fn backward<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    grads: Conv2dGrads<T>,
) {
    let g = Plane::new(p);
    let offsets = g.offsets(p);
    let taps = offsets.len();
    let (plane_in, plane_out) = (p.in_h * p.in_w, g.oh * g.ow);
    let (top, left) = (p.padding[0], p.padding[2]);
    if let Some(dx) = grads.input {
        let per_task = (GRAIN / (g.len * taps).max(1)).max(1);
        par_chunks(dx, per_task * plane_in, |task, chunk| {
            let mut dxp = Workspace::<T>::take(g.hp * g.wp);
            let mut wide = Workspace::<T>::take(g.len);
            simd::dispatch(
                #[inline(always)]
                || {
                    for (i, d) in chunk.chunks_exact_mut(plane_in).enumerate() {
                        let plane = task * per_task + i;
                        let c = plane % p.in_channels;
                        widen(&g, &grad_out[plane * plane_out..][..plane_out], &mut wide);
                        dxp.fill(T::ZERO);
                        for (&wv, &off) in w[c * taps..][..taps].iter().zip(&offsets) {
                            for (dv, &gv) in dxp[off..off + g.len].iter_mut().zip(wide.iter()) {
                                *dv += wv * gv;
                            }
                        }
                        for (r, row) in d.chunks_exact_mut(p.in_w).enumerate() {
                            row.copy_from_slice(&dxp[(top + r) * g.wp + left..][..p.in_w]);
                        }
                    }
                },
            )
        });
    }
    if let Some(dw) = grads.weight {
        // One task per run of channels; each sums over the whole batch.
        let per_task = (GRAIN / (p.batch * g.len * taps).max(1)).max(1);
        par_chunks(dw, per_task * taps, |task, chunk| {
            let mut xp = Workspace::<T>::take(g.hp * g.wp);
            let mut wide = Workspace::<T>::take(g.len);
            simd::dispatch(
                #[inline(always)]
                || {
                    for (i, dwc) in chunk.chunks_exact_mut(taps).enumerate() {
                        let c = task * per_task + i;
                        dwc.fill(T::ZERO);
                        for n in 0..p.batch {
                            let plane = n * p.out_channels + c;
                            pad(p, &g, &x[plane * plane_in..][..plane_in], &mut xp);
                            widen(&g, &grad_out[plane * plane_out..][..plane_out], &mut wide);
                            for (d, &off) in dwc.iter_mut().zip(&offsets) {
                                *d += simd::dot(&wide, &xp[off..off + g.len]);
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
