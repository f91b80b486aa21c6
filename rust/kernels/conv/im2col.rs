//! Lowering one image's group of channels to columns (im2col) and the adjoint scatter-add
//! (col2im), one tile of output rows at a time.
//!
//! For a tile of output rows `oh0..oh1`, the column matrix has `C_g * KH * KW` rows (one per
//! kernel tap `(c, kh, kw)`) and `(oh1 - oh0) * W_out` columns (one per output pixel):
//! `col[(c, kh, kw), (oh, ow)] = x[c, oh*sh + kh*dh - pad_top, ow*sw + kw*dw - pad_left]`, zero
//! where that falls in the padding. With unit stride every row segment is a `memcpy`.

use super::Conv2dParams;
use crate::kernels::real::Real;

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

/// Fill `col` (`C_g*KH*KW` rows of `(oh1 - oh0) * W_out`) from `x` (`C_g` planes of `H x W`).
pub fn im2col<T: Real>(p: &Conv2dParams, x: &[T], oh0: usize, oh1: usize, col: &mut [T]) {
    let kh_n = p.kernel.0;
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let plane = p.in_h * p.in_w;
    let sw = p.stride.1;
    let spans = spans(p);
    let mut rows = col.chunks_exact_mut(nt);
    for c in 0..p.cin_g() {
        let xc = &x[c * plane..(c + 1) * plane];
        for kh in 0..kh_n {
            for s in &spans {
                let row = rows.next().expect("col has C_g*KH*KW rows");
                for (t, oh) in (oh0..oh1).enumerate() {
                    let dst = &mut row[t * out_w..(t + 1) * out_w];
                    let Some(ih) = input_row(p, oh, kh) else {
                        dst.fill(T::ZERO);
                        continue;
                    };
                    let src = &xc[ih * p.in_w..(ih + 1) * p.in_w];
                    dst[..s.lo].fill(T::ZERO);
                    dst[s.hi..].fill(T::ZERO);
                    let n = s.hi - s.lo;
                    if n == 0 {
                        continue;
                    }
                    if sw == 1 {
                        dst[s.lo..s.hi].copy_from_slice(&src[s.first_iw..s.first_iw + n]);
                    } else {
                        for (d, &v) in dst[s.lo..s.hi]
                            .iter_mut()
                            .zip(src[s.first_iw..].iter().step_by(sw))
                        {
                            *d = v;
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: `x += col2im(col)` for the same tile of output rows.
pub fn col2im_add<T: Real>(p: &Conv2dParams, col: &[T], oh0: usize, oh1: usize, x: &mut [T]) {
    let kh_n = p.kernel.0;
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let plane = p.in_h * p.in_w;
    let sw = p.stride.1;
    let spans = spans(p);
    let mut rows = col.chunks_exact(nt);
    for c in 0..p.cin_g() {
        let xc = &mut x[c * plane..(c + 1) * plane];
        for kh in 0..kh_n {
            for s in &spans {
                let row = rows.next().expect("col has C_g*KH*KW rows");
                for (t, oh) in (oh0..oh1).enumerate() {
                    let Some(ih) = input_row(p, oh, kh) else {
                        continue;
                    };
                    if s.hi == s.lo {
                        continue;
                    }
                    let src = &row[t * out_w + s.lo..t * out_w + s.hi];
                    let dst = &mut xc[ih * p.in_w..(ih + 1) * p.in_w];
                    if sw == 1 {
                        for (d, &v) in dst[s.first_iw..s.first_iw + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (d, &v) in dst[s.first_iw..].iter_mut().step_by(sw).zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}
