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

use std::ops::Range;

use super::gemm_path::{image_runs, weight_group, Partial};
use super::{Conv2dGrads, Conv2dParams};
use crate::kernels::matmul::{matmul, MatMut, MatRef};
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::Workspace;
use crate::threading;

/// Target size of one column tile (see `gemm_path`).
const COL_TILE_BYTES: usize = 384 << 10;

/// Unit stride and a kernel wider than one pixel (1x1 convolutions need no lowering).
pub fn applies(p: &Conv2dParams) -> bool {
    p.stride == (1, 1) && !p.is_pointwise()
}

/// The padded plane and the tiling: a tile is either a block of whole images (when one
/// image's columns fit in a tile, as LeNet's do) or a range of output rows of one image.
#[derive(Clone, Copy)]
struct Layout {
    hp: usize,
    wp: usize,
    oh: usize,
    ow: usize,
    /// Output rows per tile.
    rows: usize,
    /// Images per tile: more than one only when a tile holds every row of an image.
    imgs: usize,
    padded: bool,
}

impl Layout {
    fn new<T>(p: &Conv2dParams) -> Self {
        let (oh, ow) = p.out_dims();
        let hp = p.in_h + p.padding[0] + p.padding[1];
        let wp = p.in_w + p.padding[2] + p.padding[3];
        let elem = std::mem::size_of::<T>();
        let row_bytes = p.col_rows() * wp * elem;
        let image_bytes = p.col_rows() * ((oh - 1) * wp + ow) * elem;
        // Small images are batched into one GEMM: per-image GEMMs of LeNet's sizes (16 x 150
        // times 150 x 92) spend more time packing and dispatching than multiplying.
        let (rows, imgs) = if image_bytes <= COL_TILE_BYTES {
            (
                oh,
                (COL_TILE_BYTES / image_bytes.max(1)).clamp(1, p.batch.max(1)),
            )
        } else {
            ((COL_TILE_BYTES / row_bytes.max(1)).clamp(1, oh), 1)
        };
        Self {
            hp,
            wp,
            oh,
            ow,
            rows,
            imgs,
            padded: p.padding != [0; 4],
        }
    }

    fn plane(&self) -> usize {
        self.hp * self.wp
    }

    /// Wide columns of a tile of output rows of one image: full rows except the last, cut at
    /// `W_out`.
    fn width(&self, t: &Range<usize>) -> usize {
        (t.len() - 1) * self.wp + self.ow
    }

    fn tiles(&self) -> impl Iterator<Item = Range<usize>> {
        let (oh, rows) = (self.oh, self.rows);
        (0..oh).step_by(rows).map(move |r| r..(r + rows).min(oh))
    }

    /// Largest tile width over all its images, for sizing workspaces.
    fn max_width(&self) -> usize {
        self.imgs * ((self.rows - 1) * self.wp + self.ow)
    }
}

/// One block of images of a tile, in the matrices of the tile: image `j` owns columns
/// `j * width..(j + 1) * width` of every row, and a row is `imgs * width` long.
#[derive(Clone, Copy)]
struct Block {
    imgs: usize,
    width: usize,
}

impl Block {
    fn ld(&self) -> usize {
        self.imgs * self.width
    }
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

/// The (padded, if the convolution pads) planes of a block of images, consecutive with a
/// stride of `C * Hp * Wp`: `x` itself when there is no padding, else copies in `xp`.
fn padded_images<'a, T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    x: &'a [T],
    xp: &'a mut [T],
) -> &'a [T] {
    if !l.padded {
        return x;
    }
    let (img_in, img_p) = (p.in_channels * p.in_h * p.in_w, p.in_channels * l.plane());
    let imgs = x.len() / img_in;
    for (src, dst) in x.chunks_exact(img_in).zip(xp.chunks_exact_mut(img_p)) {
        pad_image(p, l, src, dst);
    }
    &xp[..imgs * img_p]
}

/// The padded plane start of each kernel tap `(kh, kw)`, relative to its channel's plane.
fn tap_offsets(p: &Conv2dParams, l: &Layout) -> Vec<usize> {
    let (kh, kw) = p.kernel;
    (0..kh * kw)
        .map(|t| (t / kw) * p.dilation.0 * l.wp + (t % kw) * p.dilation.1)
        .collect()
}

/// Lower a tile of group `g` of a block of padded images: row `(c, kh, kw)` of `col` is, per
/// image, the run of its plane the tap reads.
#[allow(clippy::too_many_arguments)]
fn lower<T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    xp: &[T],
    g: usize,
    taps: &[usize],
    t: &Range<usize>,
    b: Block,
    col: &mut [T],
) {
    let start = t.start * l.wp;
    let img_p = p.in_channels * l.plane();
    let mut rows = col.chunks_exact_mut(b.ld());
    for c in g * p.cin_g()..(g + 1) * p.cin_g() {
        for &off in taps {
            let row = rows.next().expect("col has C_g*KH*KW rows");
            for (j, dst) in row.chunks_exact_mut(b.width).enumerate() {
                let from = j * img_p + c * l.plane() + start + off;
                dst.copy_from_slice(&xp[from..from + b.width]);
            }
        }
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
    let task = |run: usize, out_run: &mut [T]| -> Result<(), String> {
        let (k, cout_g) = (p.col_rows(), p.cout_g());
        let mut xp = Workspace::<T>::take(if l.padded {
            l.imgs * p.in_channels * l.plane()
        } else {
            0
        });
        let mut col = Workspace::<T>::take(k * l.max_width());
        let mut wide = Workspace::<T>::take(cout_g * l.max_width());
        let taps = tap_offsets(p, &l);
        let x_run = &x[run * per * img_in..][..out_run.len() / img_out * img_in];
        for (x_blk, o) in x_run
            .chunks(l.imgs * img_in)
            .zip(out_run.chunks_mut(l.imgs * img_out))
        {
            let xp_blk = padded_images(p, &l, x_blk, &mut xp);
            for g in 0..p.groups {
                for t in l.tiles() {
                    let b = Block {
                        imgs: o.len() / img_out,
                        width: l.width(&t),
                    };
                    let col = &mut col[..k * b.ld()];
                    lower(p, &l, xp_blk, g, &taps, &t, b, col);
                    let wide = &mut wide[..cout_g * b.ld()];
                    matmul(
                        weight_group(p, w, g),
                        MatRef::row_major(col, k, b.ld()),
                        MatMut::row_major(&mut *wide, cout_g, b.ld()),
                        false,
                    )?;
                    write_tile(p, &l, &t, g, b, wide, bias, o);
                }
            }
        }
        Ok(())
    };
    if runs.len() == 1 {
        return task(0, out);
    }
    use rayon::prelude::*;
    threading::install(|| {
        out.par_chunks_mut(per * img_out)
            .enumerate()
            .try_for_each(|(run, o)| task(run, o))
    })
}

/// Copy the valid `W_out` columns of each wide row into the block's output images, adding
/// the bias.
#[allow(clippy::too_many_arguments)]
fn write_tile<T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    t: &Range<usize>,
    g: usize,
    b: Block,
    wide: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
) {
    let pix = l.oh * l.ow;
    let img_out = p.out_channels * pix;
    simd::dispatch(
        #[inline(always)]
        || {
            for (j, src) in wide.chunks_exact(b.ld()).enumerate() {
                let co = g * p.cout_g() + j;
                let bv = bias.map_or(T::ZERO, |b| b[co]);
                for (img, src) in src.chunks_exact(b.width).enumerate() {
                    let plane = &mut out[img * img_out + co * pix..][..pix];
                    for (r, oh) in t.clone().enumerate() {
                        let dst = &mut plane[oh * l.ow..][..l.ow];
                        for (d, &v) in dst.iter_mut().zip(&src[r * l.wp..]) {
                            *d = v + bv;
                        }
                    }
                }
            }
        },
    )
}

/// The wide form of a tile of group `g`'s `grad_output` rows for a block of images: zeros
/// in the wrap-around columns.
fn widen<T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    t: &Range<usize>,
    g: usize,
    b: Block,
    dout: &[T],
    wide: &mut [T],
) {
    let pix = l.oh * l.ow;
    let img_out = p.out_channels * pix;
    for (j, row) in wide.chunks_exact_mut(b.ld()).take(p.cout_g()).enumerate() {
        let co = g * p.cout_g() + j;
        for (img, dst) in row.chunks_exact_mut(b.width).enumerate() {
            let plane = &dout[img * img_out + co * pix..][..pix];
            for (r, oh) in t.clone().enumerate() {
                let d = &mut dst[r * l.wp..];
                d[..l.ow].copy_from_slice(&plane[oh * l.ow..][..l.ow]);
                if r + 1 < t.len() {
                    d[l.ow..l.wp].fill(T::ZERO);
                }
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
    let (k, cout_g) = (p.col_rows(), p.cout_g());
    let img_in = p.in_channels * p.in_h * p.in_w;
    let img_out = p.out_channels * l.oh * l.ow;
    let img_p = p.in_channels * l.plane();
    let taps = tap_offsets(p, &l);
    let want_dw = partial.weight.is_some();
    let want_dx = dx.is_some();
    if !want_dw && !want_dx {
        add_bias_grad(
            p,
            &grad_out[run.start * img_out..run.end * img_out],
            partial,
        );
        return Ok(());
    }
    let padded_len = l.imgs * img_p;
    let mut xp = Workspace::<T>::take(if l.padded && want_dw { padded_len } else { 0 });
    let mut dxp = Workspace::<T>::take(if l.padded && want_dx { padded_len } else { 0 });
    let mut col = Workspace::<T>::take(if want_dw { k * l.max_width() } else { 0 });
    let mut dcol = Workspace::<T>::take(if want_dx { k * l.max_width() } else { 0 });
    let mut wide = Workspace::<T>::take(cout_g * l.max_width());
    for first in run.clone().step_by(l.imgs) {
        let imgs = l.imgs.min(run.end - first);
        let x_blk = &x[first * img_in..][..imgs * img_in];
        let go = &grad_out[first * img_out..][..imgs * img_out];
        let xp_blk: &[T] = if want_dw {
            padded_images(p, &l, x_blk, &mut xp)
        } else {
            &[]
        };
        let i = first - run.start;
        // The padded input gradients of the block, cropped into grad_input at the end.
        let mut dxp_blk: Option<&mut [T]> = match dx.as_deref_mut() {
            Some(d) if !l.padded => Some(&mut d[i * img_in..][..imgs * img_in]),
            Some(_) => Some(&mut dxp[..imgs * img_p]),
            None => None,
        };
        if let Some(d) = dxp_blk.as_deref_mut() {
            d.fill(T::ZERO);
        }
        for g in 0..p.groups {
            let wg = weight_group(p, w, g);
            for t in l.tiles() {
                let b = Block {
                    imgs,
                    width: l.width(&t),
                };
                let wide = &mut wide[..cout_g * b.ld()];
                widen(p, &l, &t, g, b, go, wide);
                let dout = MatRef::row_major(&*wide, cout_g, b.ld());
                if let Some(dw) = partial.weight.as_deref_mut() {
                    let col = &mut col[..k * b.ld()];
                    lower(p, &l, xp_blk, g, &taps, &t, b, col);
                    let c = MatMut::row_major(&mut dw[g * cout_g * k..][..cout_g * k], cout_g, k);
                    matmul(dout, MatRef::row_major(&*col, k, b.ld()).t(), c, true)?;
                }
                if let Some(d) = dxp_blk.as_deref_mut() {
                    let dcol = &mut dcol[..k * b.ld()];
                    matmul(
                        wg.t(),
                        dout,
                        MatMut::row_major(&mut *dcol, k, b.ld()),
                        false,
                    )?;
                    raise(p, &l, &taps, &t, g, b, dcol, d);
                }
            }
        }
        if l.padded {
            if let Some(d) = dx.as_deref_mut() {
                let d = &mut d[i * img_in..][..imgs * img_in];
                for (src, dst) in dxp.chunks_exact(img_p).zip(d.chunks_exact_mut(img_in)) {
                    crop(p, &l, src, dst);
                }
            }
        }
        add_bias_grad(p, go, partial);
    }
    Ok(())
}

/// `partial.bias += ` the per-channel sums of a block of images' `grad_output`.
fn add_bias_grad<T: Real>(p: &Conv2dParams, go: &[T], partial: &mut Partial<T>) {
    let Some(db) = partial.bias.as_deref_mut() else {
        return;
    };
    let (oh, ow) = p.out_dims();
    let pix = oh * ow;
    simd::dispatch(
        #[inline(always)]
        || {
            for img in go.chunks_exact(p.out_channels * pix) {
                for (co, d) in db.iter_mut().enumerate() {
                    *d += simd::sum(&img[co * pix..][..pix]);
                }
            }
        },
    );
}

/// The adjoint of [`lower`]: add each row of `dcol` onto the runs of the padded planes it
/// came from.
#[allow(clippy::too_many_arguments)]
fn raise<T: Real>(
    p: &Conv2dParams,
    l: &Layout,
    taps: &[usize],
    t: &Range<usize>,
    g: usize,
    b: Block,
    dcol: &[T],
    dxp: &mut [T],
) {
    let start = t.start * l.wp;
    let img_p = p.in_channels * l.plane();
    simd::dispatch(
        #[inline(always)]
        || {
            let mut rows = dcol.chunks_exact(b.ld());
            for c in g * p.cin_g()..(g + 1) * p.cin_g() {
                for &off in taps {
                    let row = rows.next().expect("dcol has C_g*KH*KW rows");
                    for (j, src) in row.chunks_exact(b.width).enumerate() {
                        let plane = &mut dxp[j * img_p + c * l.plane()..][..l.plane()];
                        let dst = &mut plane[start + off..start + off + b.width];
                        for (d, &v) in dst.iter_mut().zip(src) {
                            *d += v;
                        }
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
