//! Convolution as GEMM: per image and group, `out = W_g @ col`, `dW_g += dout @ col^T` and
//! `dcol = W_g^T @ dout` (then col2im), where `col` is the im2col lowering of the input. This
//! file serves strided convolutions and 1x1 convolutions without padding (which need no
//! lowering: the input image itself is the column matrix); unit-stride convolutions use the
//! cheaper lowering of `shifted`, which shares the task split and reductions here.
//!
//! The lowering is done one tile of output rows at a time into a cached workspace of about
//! [`COL_TILE_BYTES`], so the column matrix is written and read while it is still in L2
//! instead of streaming an image-sized copy (9x the input for a 3x3 kernel) through memory.
//! Images are split into one run per thread; `matmul` called from inside the pool runs on
//! its calling thread, so each run is a serial pipeline of lowering, GEMM and write-back.

use std::ops::Range;

use super::im2col::{col2im_add, im2col};
use super::{Conv2dGrads, Conv2dParams};
use crate::kernels::matmul::{matmul, MatMut, MatRef};
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::{line_aligned, line_rows_len, line_stride, Workspace};
use crate::threading;

/// Target size of one column tile: well inside a 1-2 MiB L2 next to the GEMM's own packing.
pub(super) const COL_TILE_BYTES: usize = 384 << 10;

/// Below this many forward multiply-adds a call stays on one thread.
const PARALLEL_MACS: usize = 1 << 18;

/// Output rows per tile.
fn tile_rows<T>(p: &Conv2dParams) -> usize {
    let (oh, ow) = p.out_dims();
    let row_bytes = p.col_rows() * ow * std::mem::size_of::<T>();
    (COL_TILE_BYTES / row_bytes.max(1)).clamp(1, oh.max(1))
}

fn tiles(p: &Conv2dParams, rows: usize) -> impl Iterator<Item = Range<usize>> {
    let (oh, _) = p.out_dims();
    (0..oh).step_by(rows).map(move |r| r..(r + rows).min(oh))
}

/// Most runs of images per thread. More runs than threads let the pool balance the load: a
/// thread slowed down by other work on its core (these machines lend their cores out) then
/// leaves its remaining runs to the others instead of holding up the whole call.
const RUNS_PER_THREAD: usize = 4;

/// Split the batch into contiguous runs of images, one per task: a few per thread, but none
/// with less than about [`PARALLEL_MACS`] of work.
pub(super) fn image_runs(p: &Conv2dParams) -> Vec<Range<usize>> {
    let threads = threading::num_threads();
    let tasks = if threads > 1 && p.macs() >= PARALLEL_MACS {
        let by_work = (p.macs() / PARALLEL_MACS).max(threads);
        p.batch.min(threads * RUNS_PER_THREAD).min(by_work)
    } else {
        1
    };
    let per = p.batch.div_ceil(tasks.max(1)).max(1);
    (0..p.batch)
        .step_by(per)
        .map(|s| s..(s + per).min(p.batch))
        .collect()
}

/// `W_g`, the weight of group `g` as a `C_out/g x (C_in/g*KH*KW)` matrix.
pub(super) fn weight_group<'a, T>(p: &Conv2dParams, w: &'a [T], g: usize) -> MatRef<'a, T> {
    let k = p.col_rows();
    MatRef::row_major(&w[g * p.cout_g() * k..][..p.cout_g() * k], p.cout_g(), k)
}

/// Each group's weights transposed, `[group][c, kh, kw][co]`: row-major `C_in/g*KH*KW x
/// C_out/g` matrices.
pub(super) fn transposed_weights<T: Real>(p: &Conv2dParams, w: &[T]) -> Workspace<T> {
    let (k, cout_g) = (p.col_rows(), p.cout_g());
    let mut w_t = Workspace::<T>::take(w.len());
    for (o, filter) in w.chunks_exact(k).enumerate() {
        let (g, co) = (o / cout_g, o % cout_g);
        for (r, &v) in filter.iter().enumerate() {
            w_t[(g * k + r) * cout_g + co] = v;
        }
    }
    w_t
}

/// A lowered weight gradient with few filters per group is summed transposed, `dW_g^T +=
/// col @ dY^T`, and added into the partial gradient once at the end: that GEMM reads the
/// column tile in place (its rows start on cache lines) and packs only the small dY^T, where
/// `dY @ col^T` transposes the whole column tile into packed panels on every call, which
/// costs as much as the product when the filters are few. Measured on a Zen 3 (f32, one
/// thread, two builds alternated): 4x4 kernels with 32 filters 1.24-1.27x faster, 3x3 stride
/// 2 with 16 filters 1.19x, LeNet's 6 filters 1.03x, 64 filters 0.99-1.02x.
pub(super) struct WeightGrad<T: Real> {
    /// `[group][c, kh, kw][co]` sums, when summed transposed.
    transposed: Option<Workspace<T>>,
}

impl<T: Real> WeightGrad<T> {
    /// Most bytes of one row of `dW_g^T` (64 f32 filters) for the transposed sums.
    const MAX_TRANSPOSED_ROW_BYTES: usize = 256;

    pub(super) fn new(p: &Conv2dParams, lowered: bool, wanted: bool) -> Self {
        let row_bytes = p.cout_g() * std::mem::size_of::<T>();
        let transposed = lowered && wanted && row_bytes <= Self::MAX_TRANSPOSED_ROW_BYTES;
        let len = p.groups * p.col_rows() * p.cout_g();
        Self {
            transposed: transposed.then(|| Workspace::take_zeroed(len)),
        }
    }

    /// `dW_g += dout @ col^T` for group `g` (`dwg`: its `C_out/g x k` block of the gradient).
    pub(super) fn add(
        &mut self,
        g: usize,
        col: MatRef<'_, T>,
        dout: MatRef<'_, T>,
        dwg: &mut [T],
    ) -> Result<(), String> {
        let (k, cout_g) = (col.rows, dout.rows);
        match self.transposed.as_deref_mut() {
            Some(dw_t) => {
                let c = MatMut::row_major(&mut dw_t[g * k * cout_g..][..k * cout_g], k, cout_g);
                matmul(col, dout.t(), c, true)
            }
            None => matmul(dout, col.t(), MatMut::row_major(dwg, cout_g, k), true),
        }
    }

    /// Add the transposed sums, if any, into `dw` (the whole `C_out x k` gradient).
    pub(super) fn finish(self, p: &Conv2dParams, dw: &mut [T]) {
        let Some(dw_t) = self.transposed else { return };
        let (k, cout_g) = (p.col_rows(), p.cout_g());
        for (dwg, dwg_t) in dw
            .chunks_exact_mut(cout_g * k)
            .zip(dw_t.chunks_exact(k * cout_g))
        {
            for (co, row) in dwg.chunks_exact_mut(k).enumerate() {
                for (r, d) in row.iter_mut().enumerate() {
                    *d += dwg_t[r * cout_g + co];
                }
            }
        }
    }
}

/// Columns `cols` of the `rows x pix` row-major block starting at `offset`.
fn block<T>(
    data: &[T],
    offset: usize,
    rows: usize,
    pix: usize,
    cols: Range<usize>,
) -> MatRef<'_, T> {
    MatRef {
        data: &data[offset + cols.start..],
        rows,
        cols: cols.len(),
        row_stride: pix,
        col_stride: 1,
    }
}

fn block_mut<T>(
    data: &mut [T],
    offset: usize,
    rows: usize,
    pix: usize,
    cols: Range<usize>,
) -> MatMut<'_, T> {
    MatMut {
        data: &mut data[offset + cols.start..],
        rows,
        cols: cols.len(),
        row_stride: pix,
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
    let (oh, ow) = p.out_dims();
    let img_in = p.in_channels * p.in_h * p.in_w;
    let img_out = p.out_channels * oh * ow;
    let runs = image_runs(p);
    let per = runs[0].len();
    let task = |run: usize, out_run: &mut [T]| -> Result<(), String> {
        let mut col = Workspace::<T>::take(if p.is_pointwise() {
            0
        } else {
            line_rows_len::<T>(p.col_rows(), tile_rows::<T>(p) * ow)
        });
        for (i, o) in out_run.chunks_exact_mut(img_out).enumerate() {
            let n = run * per + i;
            forward_image(p, &x[n * img_in..][..img_in], w, bias, o, &mut col)?;
        }
        Ok(())
    };
    if runs.len() == 1 {
        return task(0, out);
    }
    let pieces = out.chunks_mut(per * img_out).collect();
    threading::map_pieces(pieces, task).into_iter().collect()
}

fn forward_image<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    col: &mut [T],
) -> Result<(), String> {
    let (_, ow) = p.out_dims();
    let pix = out.len() / p.out_channels;
    let (k, cout_g) = (p.col_rows(), p.cout_g());
    let plane_in = p.in_h * p.in_w;
    let rows = tile_rows::<T>(p);
    for g in 0..p.groups {
        let xg = &x[g * p.cin_g() * plane_in..][..p.cin_g() * plane_in];
        for t in tiles(p, rows) {
            let cols = t.start * ow..t.end * ow;
            let b = if p.is_pointwise() {
                block(xg, 0, k, pix, cols.clone())
            } else {
                let ld = line_stride::<T>(cols.len());
                let col = &mut line_aligned(col)[..k * ld];
                im2col(p, xg, (t.start, t.end), ld, col);
                MatRef::strided_rows(&*col, k, cols.len(), ld)
            };
            let c = block_mut(out, g * cout_g * pix, cout_g, pix, cols.clone());
            matmul(weight_group(p, w, g), b, c, false)?;
            if let Some(bias) = bias {
                // The tile was just written, so this pass runs in cache.
                for co in g * cout_g..(g + 1) * cout_g {
                    let bv = bias[co];
                    simd::dispatch(
                        #[inline(always)]
                        || {
                            for v in &mut out[co * pix + cols.start..co * pix + cols.end] {
                                *v += bv;
                            }
                        },
                    );
                }
            }
        }
    }
    Ok(())
}

/// One task's share of the weight and bias gradients, summed after all tasks finish.
pub(super) struct Partial<T: Real> {
    pub weight: Option<Workspace<T>>,
    pub bias: Option<Workspace<T>>,
}

/// Computes one task's gradients for a run of images (see [`backward_with`]).
pub(super) type RunBackward<T> = fn(
    &Conv2dParams,
    &[T],
    &[T],
    &[T],
    Range<usize>,
    Option<&mut [T]>,
    &mut Partial<T>,
) -> Result<(), String>;

pub fn backward<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    grads: Conv2dGrads<T>,
) -> Result<(), String> {
    backward_with(p, x, w, grad_out, grads, backward_images)
}

/// Split the batch into runs of images, one task each; each task writes its images' input
/// gradients and sums its own weight and bias gradients, which are added up at the end.
pub(super) fn backward_with<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    grads: Conv2dGrads<T>,
    run_backward: RunBackward<T>,
) -> Result<(), String> {
    let img_in = p.in_channels * p.in_h * p.in_w;
    let want_weight = grads.weight.is_some();
    let want_bias = grads.bias.is_some();
    let runs = image_runs(p);
    let per = runs[0].len();
    // Each task gets its run of images and, if wanted, the matching slice of grad_input.
    let dx_runs: Vec<Option<&mut [T]>> = match grads.input {
        Some(dx) => dx.chunks_mut(per * img_in).map(Some).collect(),
        None => runs.iter().map(|_| None).collect(),
    };
    let task = |run: Range<usize>, dx: Option<&mut [T]>| -> Result<Partial<T>, String> {
        let mut partial = Partial {
            weight: want_weight.then(|| Workspace::take_zeroed(w.len())),
            bias: want_bias.then(|| Workspace::take_zeroed(p.out_channels)),
        };
        run_backward(p, x, w, grad_out, run, dx, &mut partial)?;
        Ok(partial)
    };
    let partials: Vec<Partial<T>> = if runs.len() == 1 {
        let dx = dx_runs.into_iter().next().flatten();
        vec![task(runs[0].clone(), dx)?]
    } else {
        let pieces = runs.into_iter().zip(dx_runs).collect();
        threading::map_pieces(pieces, |_, (run, dx)| task(run, dx))
            .into_iter()
            .collect::<Result<Vec<_>, String>>()?
    };
    if let Some(dw) = grads.weight {
        dw.fill(T::ZERO);
        for part in &partials {
            if let Some(pw) = &part.weight {
                dw.iter_mut().zip(pw.iter()).for_each(|(d, &v)| *d += v);
            }
        }
    }
    if let Some(db) = grads.bias {
        db.fill(T::ZERO);
        for part in &partials {
            if let Some(pb) = &part.bias {
                db.iter_mut().zip(pb.iter()).for_each(|(d, &v)| *d += v);
            }
        }
    }
    Ok(())
}

fn backward_images<T: Real>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    grad_out: &[T],
    run: Range<usize>,
    mut dx: Option<&mut [T]>,
    partial: &mut Partial<T>,
) -> Result<(), String> {
    let (oh, ow) = p.out_dims();
    let pix = oh * ow;
    let plane_in = p.in_h * p.in_w;
    let img_in = p.in_channels * plane_in;
    let img_out = p.out_channels * pix;
    let (k, cout_g, cin_g) = (p.col_rows(), p.cout_g(), p.cin_g());
    let rows = tile_rows::<T>(p);
    let lowered = !p.is_pointwise();
    let tile_len = if lowered {
        line_rows_len::<T>(k, rows * ow)
    } else {
        0
    };
    let mut col = Workspace::<T>::take(if partial.weight.is_some() {
        tile_len
    } else {
        0
    });
    let mut dcol = Workspace::<T>::take(if dx.is_some() { tile_len } else { 0 });
    let mut weight_grad = WeightGrad::new(p, lowered, partial.weight.is_some());
    // The input gradient's GEMM, `dcol = W_g^T @ dY`, reads the weights transposed; a
    // row-major copy made once per run of images is cheaper to pack than the transposed view
    // is for every image (stride-2 convolutions, one thread: 1.03-1.20x).
    let w_t = if dx.is_some() {
        transposed_weights(p, w)
    } else {
        Workspace::take(0)
    };
    for (i, n) in run.enumerate() {
        let x_img = &x[n * img_in..][..img_in];
        let go = &grad_out[n * img_out..][..img_out];
        let mut dx_img = dx.as_deref_mut().map(|d| &mut d[i * img_in..][..img_in]);
        if lowered {
            if let Some(d) = dx_img.as_deref_mut() {
                d.fill(T::ZERO);
            }
        }
        for g in 0..p.groups {
            let xg = &x_img[g * cin_g * plane_in..][..cin_g * plane_in];
            for t in tiles(p, rows) {
                let cols = t.start * ow..t.end * ow;
                let ld = line_stride::<T>(cols.len());
                let dout = block(go, g * cout_g * pix, cout_g, pix, cols.clone());
                if let Some(dw) = partial.weight.as_deref_mut() {
                    let b = if lowered {
                        let col = &mut line_aligned(&mut col)[..k * ld];
                        im2col(p, xg, (t.start, t.end), ld, col);
                        MatRef::strided_rows(&*col, k, cols.len(), ld)
                    } else {
                        block(xg, 0, k, pix, cols.clone())
                    };
                    weight_grad.add(g, b, dout, &mut dw[g * cout_g * k..][..cout_g * k])?;
                }
                if let Some(d) = dx_img.as_deref_mut() {
                    let dg = &mut d[g * cin_g * plane_in..][..cin_g * plane_in];
                    let w_t_g = MatRef::row_major(&w_t[g * k * cout_g..][..k * cout_g], k, cout_g);
                    if lowered {
                        let dcol = &mut line_aligned(&mut dcol)[..k * ld];
                        let c = MatMut::strided_rows(&mut *dcol, k, cols.len(), ld);
                        matmul(w_t_g, dout, c, false)?;
                        col2im_add(p, dcol, (t.start, t.end), ld, dg);
                    } else {
                        matmul(w_t_g, dout, block_mut(dg, 0, k, pix, cols.clone()), false)?;
                    }
                }
            }
        }
        if let Some(db) = partial.bias.as_deref_mut() {
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
