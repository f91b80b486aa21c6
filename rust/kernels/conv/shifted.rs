//! Unit-stride convolutions lowered by whole shifted rows instead of pixel by pixel.
//!
//! With stride 1, output pixel `(oh, ow)` reads input `(oh + kh*dh, ow + kw*dw)` of the padded
//! plane (`Hp x Wp`). Index the output "wide", as `j = oh * Wp + ow` with `ow` running over
//! the full padded width: then kernel tap `(c, kh, kw)` reads the padded plane at
//! `j + kh*dh*Wp + kw*dw` for every `j`, so its row of the column matrix is one contiguous
//! run of the input. Lowering a tile of output rows is `C_g*KH*KW` straight copies, instead
//! of `C_g*KH*KW*rows` short gathers with edge handling (im2col), and the input gradient is
//! as many straight adds. The price: the GEMM also computes the `Wp - W_out` wrap-around
//! columns of each row (dropped when the tile is written out), a few percent for 3x3 kernels
//! on 32-pixel rows, 17-50% on LeNet's small images, still cheaper there than the gathers.
//!
//! With many input channels even those copies can go ([`Mode::Taps`]): for one tap, the rows
//! of all channels lie one plane apart, so the tap's slice of the column matrix is a strided
//! view of the padded input itself, and the convolution is a sum of one GEMM per tap,
//! `C += W_tap @ X_tap`, reading the input in place (the input gradient likewise adds
//! `W_tap^T @ dY` straight into the padded input gradient, and the weight gradient of a tap is
//! `dY @ X_tap^T`). Nothing is lowered and the tiles can be as wide as the cache allows; the
//! price is that C is revisited once per tap, which a channel count of at least
//! [`TAP_MIN_CHANNELS`] keeps small against the `C_in` multiply-adds each visit brings.

use std::ops::Range;

use super::gemm_path::{image_runs, transposed_weights, weight_group, Partial, WeightGrad};
use super::{Conv2dGrads, Conv2dParams};
use crate::kernels::matmul::{matmul, MatMut, MatRef};
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::{line_aligned, line_rows_len, line_stride, Workspace};
use crate::threading;

/// Target size of one column tile (see `gemm_path`).
const COL_TILE_BYTES: usize = 384 << 10;
/// Target size of one tile of the output (`C_out/groups x width`) in [`Mode::Taps`], which
/// has no column tile: the output tile and the input rows it reads stay in L2 across taps.
const TAP_TILE_BYTES: usize = 256 << 10;
/// Fewest input channels per group for [`Mode::Taps`] (measured: 16 channels ran 3-6% slower
/// than lowered, 32 channels 10-16% faster, 64 channels 14-20% faster).
const TAP_MIN_CHANNELS: usize = 32;

/// How the column matrix of a tile reaches the GEMM.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Copied into a column buffer (`C_g*KH*KW` runs), then one GEMM.
    Lower,
    /// Read in place from the padded input, one GEMM per kernel tap.
    Taps,
}

/// Unit stride and a kernel wider than one pixel (1x1 convolutions need no lowering).
pub fn applies(p: &Conv2dParams) -> bool {
    p.stride == (1, 1) && !p.is_pointwise()
}

/// The padded plane and the tiling of the output rows.
#[derive(Clone, Copy)]
struct Layout {
    hp: usize,
    wp: usize,
    oh: usize,
    ow: usize,
    /// Output rows per tile.
    rows: usize,
    padded: bool,
    mode: Mode,
}

impl Layout {
    fn new<T>(p: &Conv2dParams) -> Self {
        let (oh, ow) = p.out_dims();
        let hp = p.in_h + p.padding[0] + p.padding[1];
        let wp = p.in_w + p.padding[2] + p.padding[3];
        let mode = if p.cin_g() >= TAP_MIN_CHANNELS {
            Mode::Taps
        } else {
            Mode::Lower
        };
        // The bytes one output row adds to a tile: its column-matrix rows, or its output rows.
        let (row_bytes, budget) = match mode {
            Mode::Lower => (p.col_rows() * wp, COL_TILE_BYTES),
            Mode::Taps => (p.cout_g() * wp, TAP_TILE_BYTES),
        };
        let rows = (budget / (row_bytes * std::mem::size_of::<T>()).max(1)).clamp(1, oh);
        // Tiles of nearly equal height: a thin last tile makes a GEMM too narrow to be fast.
        let rows = oh.div_ceil(oh.div_ceil(rows));
        Self {
            hp,
            wp,
            oh,
            ow,
            rows,
            padded: p.padding != [0; 4],
            mode,
        }
    }

    fn plane(&self) -> usize {
        self.hp * self.wp
    }

    /// Wide columns of a tile of output rows: full rows except the last, cut at `W_out`.
    fn width(&self, t: &Range<usize>) -> usize {
        (t.len() - 1) * self.wp + self.ow
    }

    fn tiles(&self) -> impl Iterator<Item = Range<usize>> {
        let (oh, rows) = (self.oh, self.rows);
        (0..oh).step_by(rows).map(move |r| r..(r + rows).min(oh))
    }

    /// Largest tile width, for sizing workspaces.
    fn max_width(&self) -> usize {
        (self.rows - 1) * self.wp + self.ow
    }
}

/// How many tiles of output rows `p` runs in, and whether it reads taps in place (for tests
/// that must cover both modes and several tiles).
#[cfg(test)]
pub(super) fn tiling<T>(p: &Conv2dParams) -> (usize, bool) {
    let l = Layout::new::<T>(p);
    (l.tiles().count(), l.mode == Mode::Taps)
}

/// Copy one image into its zero-padded planes (`C x Hp x Wp`).
fn pad_image<T: Real>(p: &Conv2dParams, l: &Layout, x: &[T], xp: &mut [T]) {
    let (top, left) = (p.padding[0], p.padding[2]);
    for (src, dst) in x
        .chunks_exact(p.in_h * p.in_w)
        .zip(xp.chunks_exact_mut(l.plane()))
    {
        dst[..top * l.wp].fill(T::ZERO);
        dst[(top + p.in_h) * l.wp..].fill(T::ZERO);
        for (r, row) in src.chunks_exact(p.in_w).enumerate() {
            let d = &mut dst[(top + r) * l.wp..(top + r + 1) * l.wp];
            d[..left].fill(T::ZERO);
            d[left..left + p.in_w].copy_from_slice(row);
            d[left + p.in_w..].fill(T::ZERO);
        }
    }
}

/// The padded plane start of each kernel tap `(kh, kw)`, relative to its channel's plane.
fn tap_offsets(p: &Conv2dParams, l: &Layout) -> Vec<usize> {
    let (kh, kw) = p.kernel;
    (0..kh * kw)
        .map(|t| (t / kw) * p.dilation.0 * l.wp + (t % kw) * p.dilation.1)
        .collect()
}

/// Lower a tile: row `(c, kh, kw)` of `col` (rows `ld` apart) is the run of `xp` the tap
/// reads.
fn lower<T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    xp: &[T],
    (taps, t): (&[usize], &Range<usize>),
    ld: usize,
    col: &mut [T],
) {
    let width = l.width(t);
    let start = t.start * l.wp;
    let mut rows = col.chunks_mut(ld).map(|row| &mut row[..width]);
    for c in 0..p.cin_g() {
        let plane = &xp[c * l.plane()..(c + 1) * l.plane()];
        for &off in taps {
            let row = rows.next().expect("col has C_g*KH*KW rows");
            row.copy_from_slice(&plane[start + off..start + off + width]);
        }
    }
}

/// The weights regrouped tap by tap, `[group][tap][co][c]`, so that each tap's
/// `C_out/g x C_in/g` matrix is row-major (for [`Mode::Taps`]).
fn weights_by_tap<T: Real>(p: &Conv2dParams, w: &[T]) -> Workspace<T> {
    let (cout_g, cin_g, taps) = (p.cout_g(), p.cin_g(), p.kernel.0 * p.kernel.1);
    let mut by_tap = Workspace::<T>::take(w.len());
    for (o, filter) in w.chunks_exact(cin_g * taps).enumerate() {
        let (g, co) = (o / cout_g, o % cout_g);
        for (c, kernel) in filter.chunks_exact(taps).enumerate() {
            for (t, &v) in kernel.iter().enumerate() {
                by_tap[((g * taps + t) * cout_g + co) * cin_g + c] = v;
            }
        }
    }
    by_tap
}

/// Tap `tap`'s weights for group `g`: a row-major `C_out/g x C_in/g` matrix.
fn tap_weights<'a, T>(p: &Conv2dParams, by_tap: &'a [T], g: usize, tap: usize) -> MatRef<'a, T> {
    let (cout_g, cin_g, taps) = (p.cout_g(), p.cin_g(), p.kernel.0 * p.kernel.1);
    let size = cout_g * cin_g;
    MatRef::row_major(&by_tap[(g * taps + tap) * size..][..size], cout_g, cin_g)
}

/// The rows of tile `t`'s column matrix that tap `off` contributes, read in place: channel
/// `c` is the run of `xg` (one group's padded planes) at `c * plane + t.start * Wp + off`.
fn tap_columns<'a, T>(
    p: &Conv2dParams,
    l: &Layout,
    xg: &'a [T],
    off: usize,
    t: &Range<usize>,
) -> MatRef<'a, T> {
    MatRef {
        data: &xg[t.start * l.wp + off..],
        rows: p.cin_g(),
        cols: l.width(t),
        row_stride: l.plane(),
        col_stride: 1,
    }
}

/// The part of one group's padded planes (`C_in/g x Hp x Wp`) that tap `off`'s columns of
/// tile `t` came from, as a writable view (the adjoint of [`tap_columns`]).
fn tap_columns_mut<'a, T>(
    p: &Conv2dParams,
    l: &Layout,
    dxg: &'a mut [T],
    off: usize,
    t: &Range<usize>,
) -> MatMut<'a, T> {
    MatMut {
        data: &mut dxg[t.start * l.wp + off..],
        rows: p.cin_g(),
        cols: l.width(t),
        row_stride: l.plane(),
        col_stride: 1,
    }
}

pub fn forward<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
) -> Result<(), String> {
    let l = Layout::new::<T>(p);
    let img_in = p.in_channels * p.in_h * p.in_w;
    let img_out = p.out_channels * l.oh * l.ow;
    let runs = image_runs(p);
    let per = runs[0].len();
    let by_tap = match l.mode {
        Mode::Taps => weights_by_tap(p, w),
        Mode::Lower => Workspace::take(0),
    };
    let by_tap: &[T] = &by_tap;
    let task = |run: usize, out_run: &mut [T]| -> Result<(), String> {
        let k = p.col_rows();
        let mut xp = Workspace::<T>::take(if l.padded {
            p.in_channels * l.plane()
        } else {
            0
        });
        let mut col = Workspace::<T>::take(if l.mode == Mode::Lower {
            line_rows_len::<T>(k, l.max_width())
        } else {
            0
        });
        let mut wide = Workspace::<T>::take(p.cout_g() * l.max_width());
        let taps = tap_offsets(p, &l);
        for (i, o) in out_run.chunks_exact_mut(img_out).enumerate() {
            let x_img = &x[(run * per + i) * img_in..][..img_in];
            let xp_img: &[T] = if l.padded {
                pad_image(p, &l, x_img, &mut xp);
                &xp
            } else {
                x_img
            };
            for g in 0..p.groups {
                let xg = &xp_img[g * p.cin_g() * l.plane()..][..p.cin_g() * l.plane()];
                for t in l.tiles() {
                    let width = l.width(&t);
                    let wide = &mut wide[..p.cout_g() * width];
                    if l.mode == Mode::Taps {
                        for (tap, &off) in taps.iter().enumerate() {
                            let c = MatMut::row_major(&mut *wide, p.cout_g(), width);
                            let x_tap = tap_columns(p, &l, xg, off, &t);
                            matmul(tap_weights(p, by_tap, g, tap), x_tap, c, tap > 0)?;
                        }
                    } else {
                        let ld = line_stride::<T>(width);
                        let col = &mut line_aligned(&mut col)[..k * ld];
                        lower(p, &l, xg, (&taps, &t), ld, col);
                        let c = MatMut::row_major(&mut *wide, p.cout_g(), width);
                        let cols = MatRef::strided_rows(&*col, k, width, ld);
                        matmul(weight_group(p, w, g), cols, c, false)?;
                    }
                    write_tile(p, &l, &t, g, wide, bias, o);
                }
            }
        }
        Ok(())
    };
    if runs.len() == 1 {
        return task(0, out);
    }
    let pieces = out.chunks_mut(per * img_out).collect();
    threading::map_pieces(pieces, task).into_iter().collect()
}

/// Copy the valid `W_out` columns of each wide row into the output, adding the bias.
fn write_tile<T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    t: &Range<usize>,
    g: usize,
    wide: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
) {
    let width = l.width(t);
    let pix = l.oh * l.ow;
    simd::dispatch(
        #[inline(always)]
        || {
            for (j, src) in wide.chunks_exact(width).enumerate() {
                let co = g * p.cout_g() + j;
                let b = bias.map_or(T::ZERO, |b| b[co]);
                for (r, oh) in t.clone().enumerate() {
                    let dst = &mut out[co * pix + oh * l.ow..][..l.ow];
                    for (d, &v) in dst.iter_mut().zip(&src[r * l.wp..]) {
                        *d = v + b;
                    }
                }
            }
        },
    )
}

/// The wide form of a tile of `grad_output` rows: zeros in the wrap-around columns.
fn widen<T: Real>(l: &Layout, t: &Range<usize>, dout: &[T], rows: usize, wide: &mut [T]) {
    let width = l.width(t);
    let pix = l.oh * l.ow;
    for (co, dst) in wide.chunks_exact_mut(width).take(rows).enumerate() {
        for (r, oh) in t.clone().enumerate() {
            let d = &mut dst[r * l.wp..];
            d[..l.ow].copy_from_slice(&dout[co * pix + oh * l.ow..][..l.ow]);
            if r + 1 < t.len() {
                d[l.ow..l.wp].fill(T::ZERO);
            }
        }
    }
}

pub fn backward<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    grads: Conv2dGrads<T>,
) -> Result<(), String> {
    super::gemm_path::backward_with(p, x, w, grad_out, grads, backward_images)
}

/// The gradients of a run of images, one task's share (see `gemm_path::backward_with`).
fn backward_images<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    run: Range<usize>,
    mut dx: Option<&mut [T]>,
    partial: &mut Partial<T>,
) -> Result<(), String> {
    let l = Layout::new::<T>(p);
    let (k, cout_g, cin_g) = (p.col_rows(), p.cout_g(), p.cin_g());
    let img_in = p.in_channels * p.in_h * p.in_w;
    let img_out = p.out_channels * l.oh * l.ow;
    let taps = tap_offsets(p, &l);
    let want_dx = dx.is_some();
    let padded_len = p.in_channels * l.plane();
    let mut xp = Workspace::<T>::take(if l.padded && partial.weight.is_some() {
        padded_len
    } else {
        0
    });
    let mut dxp = Workspace::<T>::take(if l.padded && want_dx { padded_len } else { 0 });
    let lowered = l.mode == Mode::Lower;
    let mut col = Workspace::<T>::take(if lowered && partial.weight.is_some() {
        line_rows_len::<T>(k, l.max_width())
    } else {
        0
    });
    let mut dcol = Workspace::<T>::take(if lowered && want_dx {
        line_rows_len::<T>(k, l.max_width())
    } else {
        0
    });
    let by_tap = if !lowered && want_dx {
        weights_by_tap(p, w)
    } else {
        Workspace::take(0)
    };
    let taps_per_channel = p.kernel.0 * p.kernel.1;
    let mut weight_grad = WeightGrad::new(p, lowered, partial.weight.is_some());
    // The lowered input gradient's GEMM, `dcol = W_g^T @ dY`, reads the weights transposed;
    // a row-major copy made once per run of images is cheaper to pack than the transposed
    // view is on every call (LeNet's conv2 input gradient: 1.14x on one thread, 1.1x on two).
    let w_t = if lowered && want_dx {
        transposed_weights(p, w)
    } else {
        Workspace::take(0)
    };
    let mut wide = Workspace::<T>::take(cout_g * l.max_width());
    for (i, n) in run.enumerate() {
        let x_img = &x[n * img_in..][..img_in];
        let go = &grad_out[n * img_out..][..img_out];
        let xp_img: &[T] = if l.padded && partial.weight.is_some() {
            pad_image(p, &l, x_img, &mut xp);
            &xp
        } else {
            x_img
        };
        let dx_img = dx.as_deref_mut().map(|d| &mut d[i * img_in..][..img_in]);
        // The padded input gradient, cropped into grad_input at the end.
        let dxp_img: Option<&mut [T]> = match dx_img {
            Some(d) if !l.padded => Some(d),
            Some(_) => Some(&mut dxp[..]),
            None => None,
        };
        let mut dxp_img = dxp_img;
        if let Some(d) = dxp_img.as_deref_mut() {
            d.fill(T::ZERO);
        }
        for g in 0..p.groups {
            let gog = &go[g * cout_g * l.oh * l.ow..][..cout_g * l.oh * l.ow];
            for t in l.tiles() {
                let width = l.width(&t);
                let wide = &mut wide[..cout_g * width];
                widen(&l, &t, gog, cout_g, wide);
                let dout = MatRef::row_major(&*wide, cout_g, width);
                let ld = line_stride::<T>(width);
                if let Some(dw) = partial.weight.as_deref_mut() {
                    let xg = &xp_img[g * cin_g * l.plane()..][..cin_g * l.plane()];
                    let dwg = &mut dw[g * cout_g * k..][..cout_g * k];
                    if lowered {
                        let col = &mut line_aligned(&mut col)[..k * ld];
                        lower(p, &l, xg, (&taps, &t), ld, col);
                        let col = MatRef::strided_rows(&*col, k, width, ld);
                        weight_grad.add(g, col, dout, dwg)?;
                    } else {
                        for (tap, &off) in taps.iter().enumerate() {
                            // This tap's weight gradients: dw[co, c, tap] for all co and c.
                            let c = MatMut {
                                data: &mut dwg[tap..],
                                rows: cout_g,
                                cols: cin_g,
                                row_stride: k,
                                col_stride: taps_per_channel,
                            };
                            matmul(dout, tap_columns(p, &l, xg, off, &t).t(), c, true)?;
                        }
                    }
                }
                if let Some(d) = dxp_img.as_deref_mut() {
                    let dg = &mut d[g * cin_g * l.plane()..][..cin_g * l.plane()];
                    if lowered {
                        let dcol = &mut line_aligned(&mut dcol)[..k * ld];
                        let w_t_g =
                            MatRef::row_major(&w_t[g * k * cout_g..][..k * cout_g], k, cout_g);
                        let c = MatMut::strided_rows(&mut *dcol, k, width, ld);
                        matmul(w_t_g, dout, c, false)?;
                        raise(&l, (&taps, &t), ld, dcol, dg);
                    } else {
                        for (tap, &off) in taps.iter().enumerate() {
                            let c = tap_columns_mut(p, &l, dg, off, &t);
                            matmul(tap_weights(p, &by_tap, g, tap).t(), dout, c, true)?;
                        }
                    }
                }
            }
        }
        if l.padded {
            if let Some(d) = dx.as_deref_mut() {
                crop(p, &l, &dxp, &mut d[i * img_in..][..img_in]);
            }
        }
        if let Some(db) = partial.bias.as_deref_mut() {
            let pix = l.oh * l.ow;
            simd::dispatch(
                #[inline(always)]
                || {
                    for (co, d) in db.iter_mut().enumerate() {
                        *d += simd::sum(&go[co * pix..][..pix]);
                    }
                },
            );
        }
    }
    if let Some(dw) = partial.weight.as_deref_mut() {
        weight_grad.finish(p, dw);
    }
    Ok(())
}

/// The adjoint of [`lower`]: add each row of `dcol` (rows `ld` apart) onto the run of the
/// padded plane it came from.
fn raise<T: Real>(
    l: &Layout,
    (taps, t): (&[usize], &Range<usize>),
    ld: usize,
    dcol: &[T],
    dxp: &mut [T],
) {
    let width = l.width(t);
    let start = t.start * l.wp;
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = dcol.chunks(ld).map(|row| &row[..width]);
            for plane in dxp.chunks_exact_mut(l.plane()) {
                for &off in taps {
                    let row = rows.next().expect("dcol has C_g*KH*KW rows");
                    for (d, &v) in plane[start + off..start + off + width].iter_mut().zip(row) {
                        *d += v;
                    }
                }
            }
        },
    )
}

/// Copy the image part of padded planes out.
fn crop<T: Real>(p: &Conv2dParams, l: &Layout, dxp: &[T], dx: &mut [T]) {
    let (top, left) = (p.padding[0], p.padding[2]);
    for (src, dst) in dxp
        .chunks_exact(l.plane())
        .zip(dx.chunks_exact_mut(p.in_h * p.in_w))
    {
        for (r, row) in dst.chunks_exact_mut(p.in_w).enumerate() {
            row.copy_from_slice(&src[(top + r) * l.wp + left..][..p.in_w]);
        }
    }
}
