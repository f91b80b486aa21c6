//! Lowering one image's group of channels to columns (im2col) and the adjoint scatter-add
//! (col2im), one tile of output rows at a time.
//!
//! For a tile of output rows `oh0..oh1`, the column matrix has `C_g * KH * KW` rows (one per
//! kernel tap `(c, kh, kw)`) and `(oh1 - oh0) * W_out` columns (one per output pixel):
//! `col[(c, kh, kw), (oh, ow)] = x[c, oh*sh + kh*dh - pad_top, ow*sw + kw*dw - pad_left]`, zero
//! where that falls in the padding. With unit stride every row segment is a `memcpy`.

use super::Conv2dParams;
use crate::kernels::real::Real;
use crate::kernels::simd;

/// For kernel column `kw`: the output columns `lo..hi` whose input column is inside the image,
/// and the input column of output column `lo`.
#[derive(Clone, Copy)]
pub(super) struct Span {
    pub lo: usize,
    pub hi: usize,
    pub first_iw: usize,
}

/// One [`Span`] per kernel column.
pub(super) fn spans(p: &Conv2dParams) -> Vec<Span> {
    let (_, out_w) = p.out_dims();
    let (sw, dw, pl) = (p.stride.1, p.dilation.1, p.padding[2]);
    (0..p.kernel.1)
        .map(|kw| {
            let offset = kw * dw; // iw = ow * sw + offset - pl
            let lo = if offset >= pl {
                0
            } else {
                (pl - offset).div_ceil(sw)
            };
            // The first ow with iw >= in_w, i.e. ow * sw + offset >= in_w + pl.
            let limit = p.in_w + pl;
            let hi = if offset >= limit {
                0
            } else {
                (limit - offset).div_ceil(sw)
            };
            let (lo, hi) = (lo.min(out_w), hi.min(out_w));
            let hi = hi.max(lo);
            // An empty span reads nothing; keep its start inside the row.
            let first_iw = if hi > lo { lo * sw + offset - pl } else { 0 };
            Span { lo, hi, first_iw }
        })
        .collect()
}

/// The input row read by output row `oh` at kernel row `kh`, if inside the image.
#[inline(always)]
pub(super) fn input_row(p: &Conv2dParams, oh: usize, kh: usize) -> Option<usize> {
    let ih = oh * p.stride.0 + kh * p.dilation.0;
    ih.checked_sub(p.padding[0]).filter(|&ih| ih < p.in_h)
}

/// `dst = src` for short rows without a `memcpy` call per row: fixed-size blocks (which
/// compile to plain vector moves), the tail as one more block overlapping the last.
#[inline(always)]
fn copy_row<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    macro_rules! blocks {
        ($b:expr) => {{
            let mut i = 0;
            while i + $b <= n {
                dst[i..i + $b].copy_from_slice(&src[i..i + $b]);
                i += $b;
            }
            if i < n {
                dst[n - $b..].copy_from_slice(&src[n - $b..]);
            }
        }};
    }
    if n >= 16 {
        blocks!(16)
    } else if n >= 4 {
        blocks!(4)
    } else {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s;
        }
    }
}

/// `dst = 0`, skipping the call when there is nothing to clear.
#[inline(always)]
fn zero<T: Real>(dst: &mut [T]) {
    if !dst.is_empty() {
        dst.fill(T::ZERO);
    }
}

/// Fill `col` (`C_g*KH*KW` rows of `(oh1 - oh0) * W_out`) from `x` (`C_g` planes of `H x W`).
pub fn im2col<T: Real>(p: &Conv2dParams, x: &[T], oh0: usize, oh1: usize, col: &mut [T]) {
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let (plane, w) = (p.in_h * p.in_w, p.in_w);
    let sw = p.stride.1;
    let spans = spans(p);
    // The input row of each (kernel row, output row) pair, once per tile.
    let ihs: Vec<Option<usize>> = (0..p.kernel.0)
        .flat_map(|kh| (oh0..oh1).map(move |oh| input_row(p, oh, kh)))
        .collect();
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = col.chunks_exact_mut(nt);
            for c in 0..p.cin_g() {
                let xc = &x[c * plane..(c + 1) * plane];
                for ih_of_t in ihs.chunks_exact(oh1 - oh0) {
                    for s in &spans {
                        let row = rows.next().expect("col has C_g*KH*KW rows");
                        for (dst, &ih) in row.chunks_exact_mut(out_w).zip(ih_of_t) {
                            let Some(ih) = ih else {
                                dst.fill(T::ZERO);
                                continue;
                            };
                            let src = &xc[ih * w + s.first_iw..(ih + 1) * w];
                            zero(&mut dst[..s.lo]);
                            zero(&mut dst[s.hi..]);
                            let inside = &mut dst[s.lo..s.hi];
                            if sw == 1 {
                                copy_row(inside, src);
                            } else {
                                for (d, &v) in inside.iter_mut().zip(src.iter().step_by(sw)) {
                                    *d = v;
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The adjoint of [`im2col`]: `x += col2im(col)` for the same tile of output rows.
pub fn col2im_add<T: Real>(p: &Conv2dParams, col: &[T], oh0: usize, oh1: usize, x: &mut [T]) {
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let (plane, w) = (p.in_h * p.in_w, p.in_w);
    let sw = p.stride.1;
    let spans = spans(p);
    let ihs: Vec<Option<usize>> = (0..p.kernel.0)
        .flat_map(|kh| (oh0..oh1).map(move |oh| input_row(p, oh, kh)))
        .collect();
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = col.chunks_exact(nt);
            for c in 0..p.cin_g() {
                let xc = &mut x[c * plane..(c + 1) * plane];
                for ih_of_t in ihs.chunks_exact(oh1 - oh0) {
                    for s in &spans {
                        let row = rows.next().expect("col has C_g*KH*KW rows");
                        if s.hi == s.lo {
                            continue;
                        }
                        for (src, &ih) in row.chunks_exact(out_w).zip(ih_of_t) {
                            let Some(ih) = ih else { continue };
                            let src = &src[s.lo..s.hi];
                            let dst = &mut xc[ih * w + s.first_iw..(ih + 1) * w];
                            if sw == 1 {
                                for (d, &v) in dst.iter_mut().zip(src) {
                                    *d += v;
                                }
                            } else {
                                for (d, &v) in dst.iter_mut().step_by(sw).zip(src) {
                                    *d += v;
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
