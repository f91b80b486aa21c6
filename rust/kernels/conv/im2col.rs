//! Lowering one image's group of channels to columns (im2col) and the adjoint scatter-add
//! (col2im), one tile of output rows at a time.
//!
//! For a tile of output rows `oh0..oh1`, the column matrix has `C_g * KH * KW` rows (one per
//! kernel tap `(c, kh, kw)`) and `(oh1 - oh0) * W_out` columns (one per output pixel):
//! `col[(c, kh, kw), (oh, ow)] = x[c, oh*sh + kh*dh - pad_top, ow*sw + kw*dw - pad_left]`, zero
//! where that falls in the padding. With unit stride every row segment is a `memcpy`; with a
//! larger stride each channel is first split into its [`PhasePlanes`], in which the segments
//! are contiguous again. The column matrix's rows are `ld` apart (the caller rounds `ld` up
//! so that every row starts on a cache line).

use std::ops::Range;

use super::Conv2dParams;
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::Workspace;

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
    } else if n >= 8 {
        blocks!(8)
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

/// Fill `col` (`C_g*KH*KW` rows of `(oh1 - oh0) * W_out`, `ld` apart) from `x` (`C_g` planes
/// of `H x W`).
pub fn im2col<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    (oh0, oh1): (usize, usize),
    ld: usize,
    col: &mut [T],
) {
    if p.stride != (1, 1) {
        return im2col_phases(p, x, (oh0, oh1), ld, col);
    }
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let (plane, w) = (p.in_h * p.in_w, p.in_w);
    let spans = spans(p);
    // The input row of each (kernel row, output row) pair, once per tile.
    let ihs: Vec<Option<usize>> = (0..p.kernel.0)
        .flat_map(|kh| (oh0..oh1).map(move |oh| input_row(p, oh, kh)))
        .collect();
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = col.chunks_mut(ld).map(|row| &mut row[..nt]);
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
                            copy_row(&mut dst[s.lo..s.hi], src);
                        }
                    }
                }
            }
        },
    )
}

/// The adjoint lowering by phase planes clears and adds back each channel's planes, which
/// pays once output rows are this long. Measured on a Zen 3 (one thread, input gradient, two
/// runs): output rows of 10-28 ran 1.00-1.17x faster than strided adds straight into the
/// image, rows of 5 0.92x.
const PHASES_MIN_OUT_W_ADJOINT: usize = 8;

/// The adjoint of [`im2col`]: `x += col2im(col)` for the same tile of output rows.
pub fn col2im_add<T: Real>(
    p: &Conv2dParams,
    col: &[T],
    (oh0, oh1): (usize, usize),
    ld: usize,
    x: &mut [T],
) {
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    if p.stride != (1, 1) && out_w >= PHASES_MIN_OUT_W_ADJOINT {
        return col2im_add_phases(p, col, (oh0, oh1), ld, x);
    }
    let (plane, w) = (p.in_h * p.in_w, p.in_w);
    let sw = p.stride.1;
    let spans = spans(p);
    let ihs: Vec<Option<usize>> = (0..p.kernel.0)
        .flat_map(|kh| (oh0..oh1).map(move |oh| input_row(p, oh, kh)))
        .collect();
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = col.chunks(ld).map(|row| &row[..nt]);
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

/// One channel of the zero-padded input split by stride phases: padded element `(r, q)` goes
/// to row `r / sh` of row phase `r % sh` and column `q / sw` of column phase `q % sw`. Every
/// tap of a strided convolution then reads contiguous runs (`W_out` long) at a fixed distance
/// from one output row to the next, with the padding already in place.
///
/// Layout: for each row phase `py` and phase row `i`, the `sw` column phases' rows of `wq`
/// elements side by side, as [`deinterleave_padded`] writes them.
struct PhasePlanes {
    sh: usize,
    sw: usize,
    hq: usize,
    wq: usize,
}

impl PhasePlanes {
    fn new(p: &Conv2dParams) -> Self {
        let (sh, sw) = p.stride;
        let hp = p.in_h + p.padding[0] + p.padding[1];
        let wp = p.in_w + p.padding[2] + p.padding[3];
        Self {
            sh,
            sw,
            hq: hp.div_ceil(sh),
            wq: wp.div_ceil(sw),
        }
    }

    fn len(&self) -> usize {
        self.sh * self.hq * self.sw * self.wq
    }

    /// Where the phase rows of padded row `r` start (all `sw` column phases, `sw * wq` long).
    fn padded_row(&self, r: usize) -> usize {
        ((r % self.sh) * self.hq + r / self.sh) * self.sw * self.wq
    }

    /// Where tap `(kh, kw)` reads for output row `oh`; the next output row reads `row_step`
    /// further on.
    fn tap(&self, p: &Conv2dParams, oh: usize, kh: usize, kw: usize) -> usize {
        let (r, q) = (kh * p.dilation.0, kw * p.dilation.1);
        self.padded_row(oh * self.sh + r) + (q % self.sw) * self.wq + q / self.sw
    }

    fn row_step(&self) -> usize {
        self.sw * self.wq
    }

    /// The padded rows read by output rows `oh0..oh1`.
    fn rows_read(p: &Conv2dParams, oh0: usize, oh1: usize) -> Range<usize> {
        let last = (oh1 - 1) * p.stride.0 + (p.kernel.0 - 1) * p.dilation.0;
        oh0 * p.stride.0..last + 1
    }
}

/// The padded row `[0; pl] ++ row ++ [0; ..]`, `sw * wq` long, split into its `sw` phases of
/// `wq` each, straight from the image row. (Splitting a padded copy instead was slower: the
/// vector loads read the copy back before its stores had landed.)
#[inline(always)]
fn deinterleave_padded<T: Real>(row: &[T], pl: usize, sw: usize, wq: usize, dst: &mut [T]) {
    let w = row.len();
    // Image column `a + sw * j` lands in phase `(a + pl) % sw` at `(a + pl) / sw + j`.
    let place = |a: usize| {
        (
            (a + pl) % sw * wq,
            (a + pl) / sw,
            (w - a.min(w)).div_ceil(sw),
        )
    };
    if sw == 2 && w >= 2 {
        let ((even_at, even_j, evens), (odd_at, odd_j, odds)) = (place(0), place(1));
        let (lo, hi) = dst.split_at_mut(even_at.max(odd_at));
        let (even_phase, odd_phase) = if even_at < odd_at { (lo, hi) } else { (hi, lo) };
        let (even_phase, odd_phase) = (&mut even_phase[..wq], &mut odd_phase[..wq]);
        even_phase[..even_j].fill(T::ZERO);
        odd_phase[..odd_j].fill(T::ZERO);
        let (even, odd) = (&mut even_phase[even_j..], &mut odd_phase[odd_j..]);
        let (even, odd, pairs) = (&mut even[..odds], &mut odd[..odds], &row[..2 * odds]);
        // Indexed, so LLVM sees a stride-2 load and vectorises it with shuffles.
        for j in 0..odds {
            even[j] = pairs[2 * j];
            odd[j] = pairs[2 * j + 1];
        }
        if evens > odds {
            even_phase[even_j + odds] = row[w - 1];
        }
        even_phase[even_j + evens..].fill(T::ZERO);
        odd_phase[odd_j + odds..].fill(T::ZERO);
        return;
    }
    for a in 0..sw {
        let (at, j0, n) = place(a);
        let phase = &mut dst[at..][..wq];
        phase[..j0].fill(T::ZERO);
        for (j, d) in phase[j0..j0 + n].iter_mut().enumerate() {
            *d = row[a + j * sw];
        }
        phase[j0 + n..].fill(T::ZERO);
    }
}

/// Fill the phase rows of padded rows `rows` of channel `xc` (an `H x W` plane).
#[inline(always)]
fn split_rows<T: Real>(
    p: &Conv2dParams,
    g: &PhasePlanes,
    xc: &[T],
    rows: Range<usize>,
    planes: &mut [T],
) {
    let w = p.in_w;
    for r in rows {
        let dst = &mut planes[g.padded_row(r)..][..g.row_step()];
        match r.checked_sub(p.padding[0]).filter(|&ih| ih < p.in_h) {
            None => dst.fill(T::ZERO),
            Some(ih) => {
                deinterleave_padded(&xc[ih * w..(ih + 1) * w], p.padding[2], g.sw, g.wq, dst)
            }
        }
    }
}

/// [`im2col`] for strides above 1. Each channel is split once into its [`PhasePlanes`] (the
/// rows this tile reads), after which every segment of the column matrix is one block copy:
/// no per-segment padding, bounds or phase arithmetic, which cost more than the copies
/// themselves when output rows are short.
fn im2col_phases<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    (oh0, oh1): (usize, usize),
    ld: usize,
    col: &mut [T],
) {
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let plane = p.in_h * p.in_w;
    let g = PhasePlanes::new(p);
    let mut planes = Workspace::<T>::take(g.len());
    let step = g.row_step();
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = col.chunks_mut(ld).map(|row| &mut row[..nt]);
            for c in 0..p.cin_g() {
                let xc = &x[c * plane..(c + 1) * plane];
                split_rows(p, &g, xc, PhasePlanes::rows_read(p, oh0, oh1), &mut planes);
                for kh in 0..p.kernel.0 {
                    for kw in 0..p.kernel.1 {
                        let row = rows.next().expect("col has C_g*KH*KW rows");
                        let start = g.tap(p, oh0, kh, kw);
                        for (t, dst) in row.chunks_exact_mut(out_w).enumerate() {
                            copy_row(dst, &planes[start + t * step..]);
                        }
                    }
                }
            }
        },
    )
}

/// The adjoint of [`deinterleave_padded`], added: the image columns of the padded row whose
/// phases are `src` are added to `row`; the padding columns are dropped.
#[inline(always)]
fn interleave_add_padded<T: Real>(src: &[T], pl: usize, sw: usize, wq: usize, row: &mut [T]) {
    let w = row.len();
    let place = |a: usize| {
        (
            (a + pl) % sw * wq + (a + pl) / sw,
            (w - a.min(w)).div_ceil(sw),
        )
    };
    if sw == 2 && w >= 2 {
        let ((even_at, evens), (odd_at, odds)) = (place(0), place(1));
        let (even, odd) = (&src[even_at..][..evens], &src[odd_at..][..odds]);
        let pairs = &mut row[..2 * odds];
        // Indexed, so LLVM sees a stride-2 store and vectorises it with shuffles.
        for j in 0..odds {
            pairs[2 * j] += even[j];
            pairs[2 * j + 1] += odd[j];
        }
        if evens > odds {
            row[w - 1] += even[odds];
        }
        return;
    }
    for a in 0..sw.min(w) {
        let (at, n) = place(a);
        for (j, &v) in src[at..at + n].iter().enumerate() {
            row[a + j * sw] += v;
        }
    }
}

/// The adjoint of [`im2col_phases`]: each channel's column rows are summed into its phase
/// planes with contiguous adds, then the planes' image rows are added back into `x`.
fn col2im_add_phases<T: Real>(
    p: &Conv2dParams,
    col: &[T],
    (oh0, oh1): (usize, usize),
    ld: usize,
    x: &mut [T],
) {
    let (_, out_w) = p.out_dims();
    let nt = (oh1 - oh0) * out_w;
    let (plane, w) = (p.in_h * p.in_w, p.in_w);
    let g = PhasePlanes::new(p);
    let mut planes = Workspace::<T>::take(g.len());
    let step = g.row_step();
    let read = PhasePlanes::rows_read(p, oh0, oh1);
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = col.chunks(ld).map(|row| &row[..nt]);
            for c in 0..p.cin_g() {
                for r in read.clone() {
                    planes[g.padded_row(r)..][..step].fill(T::ZERO);
                }
                for kh in 0..p.kernel.0 {
                    for kw in 0..p.kernel.1 {
                        let row = rows.next().expect("col has C_g*KH*KW rows");
                        let start = g.tap(p, oh0, kh, kw);
                        for (t, src) in row.chunks_exact(out_w).enumerate() {
                            let dst = &mut planes[start + t * step..][..out_w];
                            for (d, &v) in dst.iter_mut().zip(src) {
                                *d += v;
                            }
                        }
                    }
                }
                let xc = &mut x[c * plane..(c + 1) * plane];
                for r in read.clone() {
                    let Some(ih) = r.checked_sub(p.padding[0]).filter(|&ih| ih < p.in_h) else {
                        continue;
                    };
                    let src = &planes[g.padded_row(r)..][..step];
                    let row = &mut xc[ih * w..(ih + 1) * w];
                    interleave_add_padded(src, p.padding[2], g.sw, g.wq, row);
                }
            }
        },
    )
}
