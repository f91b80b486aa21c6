//! Winograd's minimal filtering F(m x m, 3x3) for 3x3, stride-1 convolutions with many
//! channels: the forward pass and both gradients.
//!
//! Each m x m block of output pixels ("tile") needs an (m+2) x (m+2) patch of the input.
//! Transforming the patch (`V = B^T d B`) and the 3x3 filter (`U = G g G^T`) turns the
//! patch's `9 m^2` multiply-adds per channel pair into `(m+2)^2` element-wise products, and
//! summing those over input channels is, for each transformed position `e`, one GEMM:
//! `M[e] (C_out x tiles) = U[e] (C_out x C_in) @ V[e] (C_in x tiles)`. The output tile is
//! `A^T M A`. F(2x2, 3x3) ([`f2`]) does 2.25x fewer multiplies than a direct or GEMM-lowered
//! convolution, F(4x4, 3x3) ([`f4`], for outputs wide enough) 4x fewer, for the price of the
//! transforms (cheap against `C_in * C_out` when both are large) and a little accuracy: in
//! float32, F(2x2) adds a few units in the last place, F(4x4) about 20 (a relative error
//! near 6e-6 of the output's scale with 64 channels, where the direct sum has 3e-7).
//!
//! The input gradient of a stride-1 3x3 convolution is itself one: the gradient of the output,
//! zero-padded by `2 - p` on each side, correlated with the filters rotated by 180 degrees and
//! with input and output channels swapped. So both passes share [`correlate`]. The weight
//! gradient is the transpose of the same algebra (see [`weight_grad`]).
//!
//! Work is split into tasks of one image's tiles in blocks of whole tile rows, whose
//! transformed input and output stay near L2 (so one image alone still keeps every thread
//! busy), or of several small images whole. It applies only with enough channels (see
//! [`applies`]).

mod f2;
mod f4;

use std::sync::atomic::{AtomicBool, Ordering};

use super::{par_chunks, Conv2dParams};
use crate::kernels::matmul::{matmul, MatMut, MatRef};
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::Workspace;
use crate::threading;

/// Target bytes of one block's transformed input and output together.
const BLOCK_BYTES: usize = 1 << 20;
/// The most bytes of transformed data that small images grouped into one task may take (in
/// one process against one image per task, 64 x 128 -> 128 channels of 8x8: up to half of
/// [`BLOCK_BYTES`] gave the weight gradient a few percent and cost the forward pass nothing;
/// a whole block cost the forward pass 7-12%).
const GROUP_BYTES: usize = BLOCK_BYTES / 2;

/// Whether a convolution's forward pass and gradients run here: 3x3, unit stride and
/// dilation, no groups, padding at most 2 per side (so the input gradient's padding `2 - p`
/// is not negative), and enough channels on both sides for the tile size its output width
/// takes (see [`Variant::min_channels`]). The caller also checks [`all_finite`] on the
/// arrays a pass reads.
pub fn applies(p: &Conv2dParams) -> bool {
    let fewer = p.in_channels.min(p.out_channels);
    p.kernel == (3, 3)
        && p.stride == (1, 1)
        && p.dilation == (1, 1)
        && p.groups == 1
        && p.padding.iter().all(|&q| q <= 2)
        && fewer >= Variant::for_width(p.out_dims().1).min_channels()
}

/// Whether every element is finite. The transforms mix each input patch into all of its
/// transformed values, so a NaN or infinity would reach every output of its tile
/// (and `inf - inf` makes NaN), where the direct sum reaches only the outputs whose window
/// holds it; with non-finite values the exact paths run instead. Checked by summing in
/// parallel: a sum of finite values is NaN or infinite only on overflow, which merely
/// takes the exact path too.
pub fn all_finite<T: Real>(data: &[T]) -> bool {
    const CHUNK: usize = 1 << 16;
    let finite = |chunk: &[T]| {
        simd::dispatch(
            #[inline(always)]
            || simd::sum(chunk).to_f64().is_finite(),
        )
    };
    if data.len() <= CHUNK || threading::num_threads() == 1 {
        return data.chunks(CHUNK).all(finite);
    }
    let all = AtomicBool::new(true);
    let chunks: Vec<&[T]> = data.chunks(CHUNK).collect();
    threading::for_each_task(chunks.len(), |i| {
        if all.load(Ordering::Relaxed) && !finite(chunks[i]) {
            all.store(false, Ordering::Relaxed);
        }
    });
    all.into_inner()
}

/// The tile size. F(4x4, 3x3) does fewer multiplies per output pixel but its transforms run
/// across [`f4::WIDTH`] tiles of a row at once, so narrower outputs take F(2x2, 3x3)
/// (measured against it in one process, 2 threads: 32-56 pixels wide 1.2-1.35x faster,
/// 28 wide 0.8x, 16 wide 0.65x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    F2,
    F4,
}

impl Variant {
    fn for_width(ow: usize) -> Self {
        if ow.div_ceil(f4::TILE) >= f4::WIDTH {
            Variant::F4
        } else {
            Variant::F2
        }
    }

    /// Fewest channels on either side for Winograd to beat the GEMM paths: the transforms'
    /// cost grows with `C_in + C_out`, the multiply-adds they save with `C_in * C_out`.
    /// Measured in one process against the GEMM paths on a 2-core Zen 3 (float32, 2 threads,
    /// 3x3, padding 1; forward / input gradient / weight gradient): with F(4x4), 32 -> 32
    /// channels on 32x32 images 1.18 / 1.22 / 1.31x and on 56x56 1.23 / 1.39 / 1.37x, but
    /// 16 -> 32 and 16 -> 64 on 32x32 0.85-1.2x; with F(2x2), 64 -> 64 on 16x16 1.14 / 1.19 /
    /// 1.29x, on 28x28 1.29 / 1.29 / 1.11x, 128 -> 128 on 8x8 1.08 / 1.31 / 1.57x, but
    /// 32 -> 64 on 16x16 0.89 / 0.63 / 0.82x, 64 -> 32 0.59 / 0.81 / 0.93x, and 32 -> 32
    /// 0.6x.
    fn min_channels(self) -> usize {
        match self {
            Variant::F2 => 64,
            Variant::F4 => 32,
        }
    }

    /// Output pixels along each side of a tile.
    fn tile(self) -> usize {
        match self {
            Variant::F2 => f2::TILE,
            Variant::F4 => f4::TILE,
        }
    }

    /// Transformed positions per tile: one GEMM each.
    fn positions(self) -> usize {
        match self {
            Variant::F2 => f2::POSITIONS,
            Variant::F4 => f4::POSITIONS,
        }
    }

    /// `U[e][ko][ci]`, [`Self::positions`] row-major `k x c` matrices, for the filters
    /// `g(ko, ci, y, x)`.
    fn transform_filters<T: Real>(
        self,
        k: usize,
        c: usize,
        g: impl Fn(usize, usize, usize, usize) -> T,
    ) -> Workspace<T> {
        match self {
            Variant::F2 => f2::transform_filters(k, c, g),
            Variant::F4 => f4::transform_filters(k, c, g),
        }
    }

    /// `V[e][ci][col0 + j]` (rows of `nt` tiles) for the input patches of tile rows
    /// `ty0..ty0 + rows` of one image.
    #[inline(always)]
    fn transform_input<T: Real>(
        self,
        g: Geometry,
        x: &[T],
        (ty0, rows): (usize, usize),
        cols: (usize, usize),
        v: &mut [T],
    ) {
        match self {
            Variant::F2 => f2::transform_input(g, x, ty0, rows, cols, v),
            Variant::F4 => f4::transform_input(g, x, ty0, rows, cols, v),
        }
    }

    /// `Z[e][ko][col0 + j]` for the tiles of the output gradient (the adjoint of the output
    /// transform).
    #[inline(always)]
    fn transform_grad_output<T: Real>(
        self,
        g: Geometry,
        dy: &[T],
        (ty0, rows): (usize, usize),
        cols: (usize, usize),
        z: &mut [T],
    ) {
        match self {
            Variant::F2 => f2::transform_grad_output(g, dy, ty0, rows, cols, z),
            Variant::F4 => f4::transform_grad_output(g, dy, ty0, rows, cols, z),
        }
    }

    /// The output pixels (plus bias) of tile rows `ty0..ty0 + rows` of one image from `M`.
    #[inline(always)]
    fn transform_output<T: Real>(
        self,
        g: Geometry,
        m: &[T],
        bias: Option<&[T]>,
        (ty0, rows): (usize, usize),
        cols: (usize, usize),
        out: ImageOut<T>,
    ) {
        match self {
            Variant::F2 => f2::transform_output(g, m, bias, ty0, rows, cols, out),
            Variant::F4 => f4::transform_output(g, m, bias, ty0, rows, cols, out),
        }
    }

    /// `dg = G^T dU G` for every filter, from the summed `dU`.
    fn filter_grad<T: Real>(self, du: &[T], k: usize, c: usize, grad_weight: &mut [T]) {
        match self {
            Variant::F2 => f2::filter_grad(du, k, c, grad_weight),
            Variant::F4 => f4::filter_grad(du, k, c, grad_weight),
        }
    }
}

/// A stride-1 3x3 correlation: `(N, c, h, w)` in, `(N, k, oh, ow)` out, zero padding `top`
/// and `left` (the bottom and right padding are implied by `oh` and `ow`).
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    c: usize,
    k: usize,
    h: usize,
    w: usize,
    top: usize,
    left: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// The forward pass's correlation: input to output channels.
    fn of_forward(p: &Conv2dParams) -> Self {
        let (oh, ow) = p.out_dims();
        Self {
            c: p.in_channels,
            k: p.out_channels,
            h: p.in_h,
            w: p.in_w,
            top: p.padding[0],
            left: p.padding[2],
            oh,
            ow,
        }
    }

    /// The tile size for this output width.
    fn variant(&self) -> Variant {
        Variant::for_width(self.ow)
    }

    /// Tiles across the output, and how many rows of them one block takes: as many as keep
    /// the block's transformed input and output within [`BLOCK_BYTES`].
    fn tiling<T>(&self, batch: usize) -> Tiling {
        let v = self.variant();
        let (tiles_h, tiles_w) = (self.oh.div_ceil(v.tile()), self.ow.div_ceil(v.tile()));
        let row_bytes = v.positions() * (self.c + self.k) * tiles_w * std::mem::size_of::<T>();
        let mut blocks = tiles_h.div_ceil((BLOCK_BYTES / row_bytes).clamp(1, tiles_h));
        let threads = threading::num_threads();
        if batch < threads {
            // Fewer images than threads: as many blocks per image as threads, or a multiple,
            // so the threads get equal shares.
            blocks = blocks.next_multiple_of(threads).min(tiles_h);
        }
        // Small images whole in one block share a task with their neighbours, so the GEMMs
        // run over enough tiles (an 8x8 image has only four), leaving every thread a task.
        let images = if blocks == 1 {
            (GROUP_BYTES / (tiles_h * row_bytes)).clamp(1, batch.div_ceil(threads).max(1))
        } else {
            1
        };
        Tiling {
            tiles_h,
            tiles_w,
            blocks,
            images,
        }
    }
}

/// How one image's tiles are split into blocks of whole tile rows.
#[derive(Clone, Copy)]
struct Tiling {
    tiles_h: usize,
    tiles_w: usize,
    blocks: usize,
    /// Images per task (more than one only when an image is one block).
    images: usize,
}

/// One task's share: images `images`, tile rows `ty0..ty0 + rows` of each.
struct Task {
    images: std::ops::Range<usize>,
    ty0: usize,
    rows: usize,
}

impl Task {
    /// Tiles in the task (the GEMMs' width), and where image `i` of it starts among them.
    fn tiles(&self, tiles_w: usize) -> usize {
        self.images.len() * self.rows * tiles_w
    }

    fn first_tile(&self, i: usize, tiles_w: usize) -> usize {
        i * self.rows * tiles_w
    }
}

impl Tiling {
    /// The first tile row and the number of rows of block `b`: balanced, so sizes differ by
    /// at most one row.
    fn block(&self, b: usize) -> (usize, usize) {
        let (base, extra) = (self.tiles_h / self.blocks, self.tiles_h % self.blocks);
        (b * base + b.min(extra), base + usize::from(b < extra))
    }

    /// The most tiles in one task.
    fn max_tiles(&self) -> usize {
        self.images * self.tiles_h.div_ceil(self.blocks) * self.tiles_w
    }

    /// How many tasks `batch` images make.
    fn tasks(&self, batch: usize) -> usize {
        batch.div_ceil(self.images) * self.blocks
    }

    /// Task `t` of `batch` images.
    fn task(&self, t: usize, batch: usize) -> Task {
        let n0 = t / self.blocks * self.images;
        let (ty0, rows) = self.block(t % self.blocks);
        Task {
            images: n0..(n0 + self.images).min(batch),
            ty0,
            rows,
        }
    }
}

/// The tile size of the forward pass (for tests that must cover both).
#[cfg(test)]
pub fn tile_of_forward(p: &Conv2dParams) -> usize {
    Geometry::of_forward(p).variant().tile()
}

/// How many blocks of tile rows one image of the forward pass takes (for tests).
#[cfg(test)]
pub fn blocks_per_image<T>(p: &Conv2dParams) -> usize {
    Geometry::of_forward(p).tiling::<T>(p.batch).blocks
}

/// The forward pass: `output = conv2d(input, weight) + bias`.
pub fn forward<T: Real>(
    p: &Conv2dParams,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    output: &mut [T],
) {
    let g = Geometry::of_forward(p);
    let u = g.variant().transform_filters(g.k, g.c, |ko, ci, y, x| {
        weight[((ko * g.c + ci) * 3 + y) * 3 + x]
    });
    correlate(g, input, &u, bias, output);
}

/// The input gradient: `grad_input = conv2d_transpose(grad_output, weight)`.
pub fn input_grad<T: Real>(
    p: &Conv2dParams,
    weight: &[T],
    grad_output: &[T],
    grad_input: &mut [T],
) {
    let (oh, ow) = p.out_dims();
    let (cin, cout) = (p.in_channels, p.out_channels);
    let g = Geometry {
        c: cout,
        k: cin,
        h: oh,
        w: ow,
        top: 2 - p.padding[0],
        left: 2 - p.padding[2],
        oh: p.in_h,
        ow: p.in_w,
    };
    // Filter (ci <- co) is filter (co -> ci) turned by 180 degrees.
    let u = g.variant().transform_filters(cin, cout, |ci, co, y, x| {
        weight[((co * cin + ci) * 3 + (2 - y)) * 3 + (2 - x)]
    });
    correlate(g, grad_output, &u, None, grad_input);
}

/// The weight gradient. The forward pass is `Y_tile = A^T (U (.) V_tile) A` with
/// `U = G g G^T`, so by the chain rule `dU = sum over tiles of (A dY_tile A^T) (.) V_tile` and
/// `dg = G^T dU G`: for each transformed position one GEMM, `dU[e] (C_out x C_in) +=
/// Z[e] (C_out x tiles) @ V[e]^T (tiles x C_in)`, summed over every tile of every image (a
/// long inner dimension, which suits the GEMM). Threads take contiguous runs of tasks, each
/// into its own `dU`, added up at the end.
pub fn weight_grad<T: Real>(
    p: &Conv2dParams,
    input: &[T],
    grad_output: &[T],
    grad_weight: &mut [T],
) {
    let g = Geometry::of_forward(p);
    let tiling = g.tiling::<T>(p.batch);
    let tiles_w = tiling.tiles_w;
    let (in_image, out_image) = (g.c * g.h * g.w, g.k * g.oh * g.ow);
    let (variant, positions) = (g.variant(), g.variant().positions());
    let du_len = positions * g.k * g.c;
    // Each thread sums a contiguous run of the tasks.
    let tasks = tiling.tasks(p.batch);
    let parts = threading::num_threads().min(tasks).max(1);
    let per_part = tasks.div_ceil(parts);
    let mut partials = Workspace::take(parts * du_len);
    par_chunks(&mut partials, du_len, |part, du| {
        du.fill(T::ZERO);
        let tiles = tiling.max_tiles();
        let mut v = Workspace::take(positions * g.c * tiles);
        let mut z = Workspace::take(positions * g.k * tiles);
        for t in part * per_part..((part + 1) * per_part).min(tasks) {
            let task = tiling.task(t, p.batch);
            let nt = task.tiles(tiles_w);
            let (v, z) = (
                &mut v[..positions * g.c * nt],
                &mut z[..positions * g.k * nt],
            );
            for (i, n) in task.images.clone().enumerate() {
                let x = &input[n * in_image..][..in_image];
                let dy = &grad_output[n * out_image..][..out_image];
                let cols = (nt, task.first_tile(i, tiles_w));
                simd::dispatch(
                    #[inline(always)]
                    || {
                        variant.transform_input(g, x, (task.ty0, task.rows), cols, v);
                        variant.transform_grad_output(g, dy, (task.ty0, task.rows), cols, z);
                    },
                );
            }
            for e in 0..positions {
                let a = MatRef::row_major(&z[e * g.k * nt..][..g.k * nt], g.k, nt);
                let b = MatRef::row_major(&v[e * g.c * nt..][..g.c * nt], g.c, nt).t();
                let c = MatMut::row_major(&mut du[e * g.k * g.c..][..g.k * g.c], g.k, g.c);
                matmul(a, b, c, true).expect("winograd: GEMM shapes agree");
            }
        }
    });
    let (first, rest) = partials.split_at_mut(du_len);
    for part in rest.chunks_exact(du_len) {
        for (d, &s) in first.iter_mut().zip(part) {
            *d += s;
        }
    }
    g.variant().filter_grad(first, g.k, g.c, grad_weight);
}

/// Correlate every image of `x` with the transformed filters `u` (see
/// [`Variant::transform_filters`]),
/// adding `bias`, into `out`.
fn correlate<T: Real>(g: Geometry, x: &[T], u: &[T], bias: Option<&[T]>, out: &mut [T]) {
    let (in_image, out_image) = (g.c * g.h * g.w, g.k * g.oh * g.ow);
    let batch = out.len() / out_image;
    let tiling = g.tiling::<T>(batch);
    let (variant, positions) = (g.variant(), g.variant().positions());
    let tiles_w = tiling.tiles_w;
    let shared = SharedOut {
        ptr: out.as_mut_ptr(),
        len: out.len(),
        _out: std::marker::PhantomData,
    };
    let run = |t: usize| {
        let task = tiling.task(t, batch);
        let nt = task.tiles(tiles_w);
        let mut v = Workspace::take(positions * g.c * nt);
        let mut m = Workspace::take(positions * g.k * nt);
        for (i, n) in task.images.clone().enumerate() {
            let x = &x[n * in_image..][..in_image];
            let cols = (nt, task.first_tile(i, tiles_w));
            simd::dispatch(
                #[inline(always)]
                || variant.transform_input(g, x, (task.ty0, task.rows), cols, &mut v),
            );
        }
        for e in 0..positions {
            let a = MatRef::row_major(&u[e * g.k * g.c..][..g.k * g.c], g.k, g.c);
            let b = MatRef::row_major(&v[e * g.c * nt..][..g.c * nt], g.c, nt);
            let c = MatMut::row_major(&mut m[e * g.k * nt..][..g.k * nt], g.k, nt);
            // Inside the pool this runs on the calling thread; shapes agree by
            // construction, so it cannot fail.
            matmul(a, b, c, false).expect("winograd: GEMM shapes agree");
        }
        for (i, n) in task.images.clone().enumerate() {
            // SAFETY: task `t` alone writes the output rows of image `n` that its tile rows
            // cover, and `out` is borrowed mutably for the whole call.
            let image = unsafe { shared.image(n, out_image) };
            let cols = (nt, task.first_tile(i, tiles_w));
            simd::dispatch(
                #[inline(always)]
                || variant.transform_output(g, &m, bias, (task.ty0, task.rows), cols, image),
            );
        }
    };
    threading::for_each_task(tiling.tasks(batch), run);
}

/// The output array, shared by tasks that each write their own rows of it (tiles of rows of
/// one image: not contiguous across channels, so it cannot be split into slices up front).
struct SharedOut<'a, T> {
    ptr: *mut T,
    len: usize,
    _out: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: tasks only write disjoint rows (see `SharedOut::image`).
unsafe impl<T: Send> Sync for SharedOut<'_, T> {}

impl<'a, T> SharedOut<'a, T> {
    /// Image `n`'s output, for writing the rows its caller owns.
    ///
    /// # Safety
    /// While the view lives, no other caller may write or read the elements this caller
    /// writes through it (callers write disjoint sets of rows).
    unsafe fn image(&self, n: usize, image_len: usize) -> ImageOut<'a, T> {
        assert!((n + 1) * image_len <= self.len);
        ImageOut {
            ptr: self.ptr.add(n * image_len),
            len: image_len,
            _out: std::marker::PhantomData,
        }
    }
}

/// One image's output, handing out one row at a time (see [`SharedOut::image`]).
pub(super) struct ImageOut<'a, T> {
    ptr: *mut T,
    len: usize,
    _out: std::marker::PhantomData<&'a mut [T]>,
}

impl<T> ImageOut<'_, T> {
    /// Elements `start..start + len`.
    fn row(&mut self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len);
        // SAFETY: in bounds (checked); the `SharedOut::image` contract makes this caller the
        // only one touching these elements, and `&mut self` keeps one row alive at a time.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}
