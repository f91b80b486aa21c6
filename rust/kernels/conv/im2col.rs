//! Lowering one image's group of channels to columns (im2col) and the adjoint scatter-add
//! (col2im), one tile of output rows at a time.
//!
//! For a tile of output rows `oh0..oh1`, the column matrix has `C_g * KH * KW` rows (one per
//! kernel tap `(c, kh, kw)`) and `(oh1 - oh0) * W_out` columns (one per output pixel):
//! `col[(c, kh, kw), (oh, ow)] = x[c, oh*sh + kh*dh - pad_top, ow*sw + kw*dw - pad_left]`, zero
//! where that falls in the padding. With unit stride every row segment is a `memcpy`; with a
//! larger column stride each input row is first split into its phases (see
//! [`im2col_strided`]), in which the segments are contiguous again.

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
    if sw > 1 && out_w >= PHASES_MIN_OUT_W {
        return im2col_strided(p, x, oh0, oh1, &ihs, &spans, col);
    }
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

/// Splitting rows into phases (see [`im2col_strided`]) costs a pass over each input row, which
/// pays once the output rows are this long. Measured on a Zen 3 (64 images, 16 channels,
/// stride 2, 2 threads): output rows of 14 lowered 1.2x faster, of 7-8 about even, of 4 0.9x.
const PHASES_MIN_OUT_W: usize = 8;
/// The same for [`col2im_add_strided`], which also clears the phases: rows of 14-16 ran
/// 1.02-1.10x faster, of 7-8 0.84-0.95x, of 4 0.8x.
const PHASES_MIN_OUT_W_ADJOINT: usize = 12;

/// `row` split by position modulo `stride`: phase `q` (the elements at `q, q + stride, ...`)
/// goes to `out[q * len..]`, `len = ceil(row.len() / stride)`.
#[inline(always)]
fn deinterleave<T: Copy>(row: &[T], stride: usize, len: usize, out: &mut [T]) {
    if stride == 2 {
        let (even, odd) = out.split_at_mut(len);
        for ((pair, e), o) in row.chunks_exact(2).zip(even.iter_mut()).zip(odd.iter_mut()) {
            *e = pair[0];
            *o = pair[1];
        }
        if row.len() % 2 == 1 {
            even[row.len() / 2] = row[row.len() - 1];
        }
    } else {
        for (i, &v) in row.iter().enumerate() {
            out[(i % stride) * len + i / stride] = v;
        }
    }
}

/// The adjoint of [`deinterleave`], added: `row[i] += phases[(i % stride) * len + i / stride]`.
#[inline(always)]
fn interleave_add<T: Real>(phases: &[T], stride: usize, len: usize, row: &mut [T]) {
    if stride == 2 {
        let (even, odd) = phases.split_at(len);
        let n = row.len();
        for ((pair, &e), &o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
            pair[0] += e;
            pair[1] += o;
        }
        if n % 2 == 1 {
            row[n - 1] += even[n / 2];
        }
    } else {
        for (i, r) in row.iter_mut().enumerate() {
            *r += phases[(i % stride) * len + i / stride];
        }
    }
}

/// Where span `s` reads in a deinterleaved row: its phase's offset plus its first element.
#[inline(always)]
fn phase_start(s: &Span, stride: usize, len: usize) -> usize {
    (s.first_iw % stride) * len + s.first_iw / stride
}

/// [`im2col`] with a column stride above 1. A strided gather per kernel tap would read each
/// input row `KW` times element by element; instead each input row is split once into its
/// `stride` phases (every `stride`-th element), in which every tap's span is contiguous, so
/// the taps become block copies (the lowering of a 4x4 stride-2 convolution on 28x28 images
/// took 0.9 ms instead of 1.5 ms of a 3.6 ms forward pass).
fn im2col_strided<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    oh0: usize,
    oh1: usize,
    ihs: &[Option<usize>],
    spans: &[Span],
    col: &mut [T],
) {
    let (_, out_w) = p.out_dims();
    let (rows, nt) = (oh1 - oh0, (oh1 - oh0) * out_w);
    let (plane, w, sw, kw_n) = (p.in_h * p.in_w, p.in_w, p.stride.1, p.kernel.1);
    let len = w.div_ceil(sw);
    let mut phases = vec![T::ZERO; sw * len];
    simd::dispatch(
        #[inline(always)]
        || {
            for c in 0..p.cin_g() {
                let xc = &x[c * plane..(c + 1) * plane];
                for (kh, ih_of_t) in ihs.chunks_exact(rows).enumerate() {
                    let taps = &mut col[(c * p.kernel.0 + kh) * kw_n * nt..][..kw_n * nt];
                    for (t, &ih) in ih_of_t.iter().enumerate() {
                        let Some(ih) = ih else {
                            for tap in taps.chunks_exact_mut(nt) {
                                tap[t * out_w..(t + 1) * out_w].fill(T::ZERO);
                            }
                            continue;
                        };
                        deinterleave(&xc[ih * w..(ih + 1) * w], sw, len, &mut phases);
                        for (tap, s) in taps.chunks_exact_mut(nt).zip(spans) {
                            let dst = &mut tap[t * out_w..(t + 1) * out_w];
                            zero(&mut dst[..s.lo]);
                            zero(&mut dst[s.hi..]);
                            if s.hi > s.lo {
                                copy_row(&mut dst[s.lo..s.hi], &phases[phase_start(s, sw, len)..]);
                            }
                        }
                    }
                }
            }
        },
    )
}

/// [`col2im_add`] with a column stride above 1: the adjoint of [`im2col_strided`]. Each input
/// row's taps are summed into its phases with contiguous adds, then added back into the row
/// in one strided pass.
fn col2im_add_strided<T: Real>(
    p: &Conv2dParams,
    col: &[T],
    oh0: usize,
    oh1: usize,
    ihs: &[Option<usize>],
    spans: &[Span],
    x: &mut [T],
) {
    let (_, out_w) = p.out_dims();
    let (rows, nt) = (oh1 - oh0, (oh1 - oh0) * out_w);
    let (plane, w, sw, kw_n) = (p.in_h * p.in_w, p.in_w, p.stride.1, p.kernel.1);
    let len = w.div_ceil(sw);
    let mut phases = vec![T::ZERO; sw * len];
    simd::dispatch(
        #[inline(always)]
        || {
            for c in 0..p.cin_g() {
                let xc = &mut x[c * plane..(c + 1) * plane];
                for (kh, ih_of_t) in ihs.chunks_exact(rows).enumerate() {
                    let taps = &col[(c * p.kernel.0 + kh) * kw_n * nt..][..kw_n * nt];
                    for (t, &ih) in ih_of_t.iter().enumerate() {
                        let Some(ih) = ih else { continue };
                        phases.fill(T::ZERO);
                        for (tap, s) in taps.chunks_exact(nt).zip(spans) {
                            let src = &tap[t * out_w + s.lo..t * out_w + s.hi];
                            let start = phase_start(s, sw, len);
                            for (d, &v) in phases[start..start + src.len()].iter_mut().zip(src) {
                                *d += v;
                            }
                        }
                        interleave_add(&phases, sw, len, &mut xc[ih * w..(ih + 1) * w]);
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
    if sw > 1 && out_w >= PHASES_MIN_OUT_W_ADJOINT {
        return col2im_add_strided(p, col, oh0, oh1, &ihs, &spans, x);
    }
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
