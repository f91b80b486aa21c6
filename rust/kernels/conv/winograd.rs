//! Winograd's minimal filtering F(2x2, 3x3) for 3x3, stride-1 convolutions with many
//! channels: the forward pass and the input gradient.
//!
//! Each 2x2 block of output pixels ("tile") needs a 4x4 patch of the input. Transforming the
//! patch (`V = B^T d B`) and the 3x3 filter (`U = G g G^T`) turns the patch's 36
//! multiply-adds per channel pair into 16 element-wise products, and summing those over input
//! channels is, for each of the 16 transformed positions `e`, one GEMM:
//! `M[e] (C_out x tiles) = U[e] (C_out x C_in) @ V[e] (C_in x tiles)`. The output tile is
//! `A^T M A`. So 2.25x fewer multiplies than a direct or GEMM-lowered 3x3 convolution, for
//! the price of the two transforms (cheap against `C_in * C_out` when both are large) and a
//! little accuracy (F(2x2, 3x3) adds a few units in the last place; larger tiles lose more).
//!
//! The input gradient of a stride-1 3x3 convolution is itself one: the gradient of the output,
//! zero-padded by `2 - p` on each side, correlated with the filters rotated by 180 degrees and
//! with input and output channels swapped. So both passes share [`correlate`].
//!
//! Work is split into tasks of one image's tiles in blocks of whole tile rows, whose
//! transformed input and output stay near L2 (so one image alone still keeps every thread
//! busy). It applies only with enough channels (see [`MIN_FEWER_CHANNELS`]). The weight gradient is the transpose of
//! the same algebra (see [`weight_grad`]).

use super::{par_chunks, Conv2dParams};
use crate::kernels::matmul::{matmul, MatMut, MatRef};
use crate::kernels::real::Real;
use crate::kernels::simd;
use crate::kernels::workspace::Workspace;
use crate::threading;

/// Fewest channels on the smaller and the larger side of the convolution for Winograd. The
/// transforms' cost grows with `C_in + C_out`, the multiply-adds they save with
/// `C_in * C_out`. Measured in one process against the GEMM paths on a 2-core Zen 3 (float32,
/// 2 threads, 3x3, padding 1; forward / input gradient / weight gradient): 64 -> 64 channels
/// on 56x56 images 1.8 / 1.6 / 1.9x, on 16x16 1.2 / 1.2 / 1.4x, on 8x8 1.0 / 1.15 / 1.0x;
/// 128 -> 128 on 8x8 1.3 / 1.6 / 1.85x; 32 -> 64 on 32x32 1.2 / 1.1 / 1.1x and 64 -> 32
/// 1.2 / 1.3 / 1.2x; but 32 -> 32 0.9-1.0x, and 16 channels on either side 0.5-1.0x.
const MIN_FEWER_CHANNELS: usize = 32;
const MIN_MORE_CHANNELS: usize = 64;
/// Target bytes of one block's transformed input and output together.
const BLOCK_BYTES: usize = 1 << 20;

/// Whether a convolution's forward pass and gradients run here: 3x3, unit stride and
/// dilation, no groups, padding at most 2 per side (so the input gradient's padding `2 - p`
/// is not negative), and enough channels on both sides. The caller
/// also checks [`all_finite`] on the arrays a pass reads.
pub fn applies(p: &Conv2dParams) -> bool {
    let fewer = p.in_channels.min(p.out_channels);
    let more = p.in_channels.max(p.out_channels);
    p.kernel == (3, 3)
        && p.stride == (1, 1)
        && p.dilation == (1, 1)
        && p.groups == 1
        && p.padding.iter().all(|&q| q <= 2)
        && fewer >= MIN_FEWER_CHANNELS
        && more >= MIN_MORE_CHANNELS
}

/// Whether every element is finite. The transforms mix each 4x4 input patch into all 16 of
/// its transformed values, so a NaN or infinity would reach all four outputs of its tile
/// (and `inf - inf` makes NaN), where the direct sum reaches only the outputs whose window
/// holds it; with non-finite values the exact paths run instead. Checked by summing in
/// parallel: a sum of finite values is NaN or infinite only on overflow, which merely
/// takes the exact path too.
pub fn all_finite<T: Real>(data: &[T]) -> bool {
    use rayon::prelude::*;
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
    threading::install(|| data.par_chunks(CHUNK).all(finite))
}

/// A stride-1 3x3 correlation: `(N, c, h, w)` in, `(N, k, oh, ow)` out, zero padding `top`
/// and `left` (the bottom and right padding are implied by `oh` and `ow`).
#[derive(Clone, Copy)]
struct Geometry {
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

    /// Tiles across the output, and how many rows of them one block takes: as many as keep
    /// the block's transformed input and output within [`BLOCK_BYTES`].
    fn tiling<T>(&self, batch: usize) -> Tiling {
        let (tiles_h, tiles_w) = (self.oh.div_ceil(2), self.ow.div_ceil(2));
        let row_bytes = 16 * (self.c + self.k) * tiles_w * std::mem::size_of::<T>();
        let mut blocks = tiles_h.div_ceil((BLOCK_BYTES / row_bytes).clamp(1, tiles_h));
        let threads = threading::num_threads();
        if batch < threads {
            // Fewer images than threads: as many blocks per image as threads, or a multiple,
            // so the threads get equal shares.
            blocks = blocks.next_multiple_of(threads).min(tiles_h);
        }
        Tiling {
            tiles_h,
            tiles_w,
            blocks,
        }
    }
}

/// How one image's tiles are split into blocks of whole tile rows.
#[derive(Clone, Copy)]
struct Tiling {
    tiles_h: usize,
    tiles_w: usize,
    blocks: usize,
}

impl Tiling {
    /// The first tile row and the number of rows of block `b`: balanced, so sizes differ by
    /// at most one row.
    fn block(&self, b: usize) -> (usize, usize) {
        let (base, extra) = (self.tiles_h / self.blocks, self.tiles_h % self.blocks);
        (b * base + b.min(extra), base + usize::from(b < extra))
    }

    /// The most tile rows in one block.
    fn max_rows(&self) -> usize {
        self.tiles_h.div_ceil(self.blocks)
    }
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
    let u = transform_filters(g.k, g.c, |ko, ci, y, x| {
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
    let u = transform_filters(cin, cout, |ci, co, y, x| {
        weight[((co * cin + ci) * 3 + (2 - y)) * 3 + (2 - x)]
    });
    correlate(g, grad_output, &u, None, grad_input);
}

/// The weight gradient. The forward pass is `Y_tile = A^T (U (.) V_tile) A` with
/// `U = G g G^T`, so by the chain rule `dU = sum over tiles of (A dY_tile A^T) (.) V_tile` and
/// `dg = G^T dU G`: for each of the 16 positions one GEMM, `dU[e] (C_out x C_in) +=
/// Z[e] (C_out x tiles) @ V[e]^T (tiles x C_in)`, summed over every tile of every image (a
/// long inner dimension, which suits the GEMM). Threads take contiguous runs of images, each
/// into its own `dU`, added up at the end.
pub fn weight_grad<T: Real>(
    p: &Conv2dParams,
    input: &[T],
    grad_output: &[T],
    grad_weight: &mut [T],
) {
    let g = Geometry::of_forward(p);
    let tiling = g.tiling::<T>(p.batch);
    let (tiles_w, blocks) = (tiling.tiles_w, tiling.blocks);
    let (in_image, out_image) = (g.c * g.h * g.w, g.k * g.oh * g.ow);
    let du_len = 16 * g.k * g.c;
    // Tasks are (image, block of tile rows); each thread sums a contiguous run of them.
    let tasks = p.batch * blocks;
    let parts = threading::num_threads().min(tasks).max(1);
    let per_part = tasks.div_ceil(parts);
    let mut partials = Workspace::take(parts * du_len);
    par_chunks(&mut partials, du_len, |part, du| {
        du.fill(T::ZERO);
        let tiles = tiling.max_rows() * tiles_w;
        let mut v = Workspace::take(16 * g.c * tiles);
        let mut z = Workspace::take(16 * g.k * tiles);
        for t in part * per_part..((part + 1) * per_part).min(tasks) {
            let n = t / blocks;
            let (ty0, rows) = tiling.block(t % blocks);
            let x = &input[n * in_image..][..in_image];
            let dy = &grad_output[n * out_image..][..out_image];
            let nt = rows * tiles_w;
            let (v, z) = (&mut v[..16 * g.c * nt], &mut z[..16 * g.k * nt]);
            simd::dispatch(
                #[inline(always)]
                || {
                    transform_input(g, x, ty0, rows, v);
                    transform_grad_output(g, dy, ty0, rows, z);
                },
            );
            for e in 0..16 {
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
    // dg = G^T dU G, with G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
    let half = T::from_f64(0.5);
    let gt = |r: [T; 4]| {
        [
            r[0] + (r[1] + r[2]) * half,
            (r[1] - r[2]) * half,
            (r[1] + r[2]) * half + r[3],
        ]
    };
    for ko in 0..g.k {
        for ci in 0..g.c {
            let du = |e: usize| first[(e * g.k + ko) * g.c + ci];
            // G^T along the columns of dU, then G along the rows.
            let columns: [[T; 3]; 4] =
                std::array::from_fn(|j| gt([du(j), du(4 + j), du(8 + j), du(12 + j)]));
            for y in 0..3 {
                let row = gt([columns[0][y], columns[1][y], columns[2][y], columns[3][y]]);
                grad_weight[((ko * g.c + ci) * 3 + y) * 3..][..3].copy_from_slice(&row);
            }
        }
    }
}

/// `Z[e][ko][j] = (A dy A^T)[e]` for the 2x2 tiles `dy` of the output gradient in tile rows
/// `ty0..ty0 + rows` (zero past the output's edge), `A = [1 0; 1 1; 1 -1; 0 -1]`. With the
/// tile's top row `(a, b)` and bottom row `(c, d)`, `A dy` has rows `(p_i, q_i)` with
/// `p = (a, a + c, a - c, -c)`, `q = (b, b + d, b - d, -d)`, and row `i` of the result is
/// `(p_i, p_i + q_i, p_i - q_i, -q_i)`.
#[inline(always)]
fn transform_grad_output<T: Real>(g: Geometry, dy: &[T], ty0: usize, rows: usize, z: &mut [T]) {
    let tiles_w = g.ow.div_ceil(2);
    let nt = rows * tiles_w;
    let step = g.k * nt;
    // Even and odd columns of the tile row's top and bottom output rows.
    let mut cols = vec![T::ZERO; 4 * tiles_w];
    let mut pq = vec![T::ZERO; 8 * tiles_w];
    for ko in 0..g.k {
        let plane = &dy[ko * g.oh * g.ow..][..g.oh * g.ow];
        for r in 0..rows {
            cols.fill(T::ZERO);
            for half in 0..2 {
                let y = 2 * (ty0 + r) + half;
                if y < g.oh {
                    let src = &plane[y * g.ow..][..g.ow];
                    let (even, odd) =
                        cols[2 * half * tiles_w..][..2 * tiles_w].split_at_mut(tiles_w);
                    for (tx, pair) in src.chunks(2).enumerate() {
                        even[tx] = pair[0];
                        if let Some(&o) = pair.get(1) {
                            odd[tx] = o;
                        }
                    }
                }
            }
            let (a, rest) = cols.split_at(tiles_w);
            let (b, rest) = rest.split_at(tiles_w);
            let (c, d) = rest.split_at(tiles_w);
            // p_0..p_3 then q_0..q_3, tiles_w each.
            let (p, q) = pq.split_at_mut(4 * tiles_w);
            for (x, (top, bottom)) in [(&mut *p, (a, c)), (&mut *q, (b, d))] {
                let (x0, rest) = x.split_at_mut(tiles_w);
                let (x1, rest) = rest.split_at_mut(tiles_w);
                let (x2, x3) = rest.split_at_mut(tiles_w);
                for t in 0..tiles_w {
                    x0[t] = top[t];
                    x1[t] = top[t] + bottom[t];
                    x2[t] = top[t] - bottom[t];
                    x3[t] = -bottom[t];
                }
            }
            let at = ko * nt + r * tiles_w;
            for i in 0..4 {
                let (pi, qi) = (&p[i * tiles_w..][..tiles_w], &q[i * tiles_w..][..tiles_w]);
                let plane_at = |j: usize| (4 * i + j) * step + at;
                let dst = &mut z[plane_at(0)..][..tiles_w];
                dst.copy_from_slice(pi);
                let dst = &mut z[plane_at(1)..][..tiles_w];
                for (d, (&x, &y)) in dst.iter_mut().zip(pi.iter().zip(qi)) {
                    *d = x + y;
                }
                let dst = &mut z[plane_at(2)..][..tiles_w];
                for (d, (&x, &y)) in dst.iter_mut().zip(pi.iter().zip(qi)) {
                    *d = x - y;
                }
                let dst = &mut z[plane_at(3)..][..tiles_w];
                for (d, &y) in dst.iter_mut().zip(qi) {
                    *d = -y;
                }
            }
        }
    }
}

/// `U[e][ko][ci] = (G g G^T)[e]` for the filters `g(ko, ci, y, x)`, laid out as 16 row-major
/// `k x c` matrices.
fn transform_filters<T: Real>(
    k: usize,
    c: usize,
    g: impl Fn(usize, usize, usize, usize) -> T,
) -> Workspace<T> {
    let mut u = Workspace::take(16 * k * c);
    let half = T::from_f64(0.5);
    for ko in 0..k {
        for ci in 0..c {
            // G g: 4 x 3, with G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
            let column = |x: usize| {
                let (g0, g1, g2) = (g(ko, ci, 0, x), g(ko, ci, 1, x), g(ko, ci, 2, x));
                [g0, (g0 + g1 + g2) * half, (g0 - g1 + g2) * half, g2]
            };
            let columns = [column(0), column(1), column(2)];
            let t: [[T; 3]; 4] = std::array::from_fn(|i| std::array::from_fn(|x| columns[x][i]));
            // (G g) G^T: 4 x 4.
            for (i, row) in t.iter().enumerate() {
                let [a, b, d] = *row;
                let out = [a, (a + b + d) * half, (a - b + d) * half, d];
                for (j, &v) in out.iter().enumerate() {
                    u[((i * 4 + j) * k + ko) * c + ci] = v;
                }
            }
        }
    }
    u
}

/// Correlate every image of `x` with the transformed filters `u` (see [`transform_filters`]),
/// adding `bias`, into `out`.
fn correlate<T: Real>(g: Geometry, x: &[T], u: &[T], bias: Option<&[T]>, out: &mut [T]) {
    let (in_image, out_image) = (g.c * g.h * g.w, g.k * g.oh * g.ow);
    let tiling = g.tiling::<T>(out.len() / out_image);
    let (tiles_w, blocks) = (tiling.tiles_w, tiling.blocks);
    let tasks = out.len() / out_image * blocks;
    let shared = SharedOut {
        ptr: out.as_mut_ptr(),
        len: out.len(),
        _out: std::marker::PhantomData,
    };
    let task = |t: usize| {
        let n = t / blocks;
        let (ty0, rows) = tiling.block(t % blocks);
        let nt = rows * tiles_w;
        let x = &x[n * in_image..][..in_image];
        let mut v = Workspace::take(16 * g.c * nt);
        let mut m = Workspace::take(16 * g.k * nt);
        simd::dispatch(
            #[inline(always)]
            || transform_input(g, x, ty0, rows, &mut v),
        );
        for e in 0..16 {
            let a = MatRef::row_major(&u[e * g.k * g.c..][..g.k * g.c], g.k, g.c);
            let b = MatRef::row_major(&v[e * g.c * nt..][..g.c * nt], g.c, nt);
            let c = MatMut::row_major(&mut m[e * g.k * nt..][..g.k * nt], g.k, nt);
            // Inside the pool this runs on the calling thread; shapes agree by
            // construction, so it cannot fail.
            matmul(a, b, c, false).expect("winograd: GEMM shapes agree");
        }
        // SAFETY: task `t` alone writes the output rows of image `n` that tile rows
        // `ty0..ty0 + rows` cover, and `out` is borrowed mutably for the whole call.
        let image = unsafe { shared.image(n, out_image) };
        simd::dispatch(
            #[inline(always)]
            || transform_output(g, &m, bias, ty0, rows, image),
        );
    };
    threading::for_each_task(tasks, task);
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
struct ImageOut<'a, T> {
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

/// Scatter an input row into the even and odd columns of its zero-padded row (`left` zeros
/// first): padded column `c = s + left` of source column `s` goes to `even[c / 2]` or
/// `odd[c / 2]`. The caller zeroes both first and makes them long enough.
#[inline(always)]
fn split_columns<T: Real>(src: &[T], left: usize, even: &mut [T], odd: &mut [T]) {
    let q0 = left / 2;
    let pairs = src.chunks_exact(2);
    let last = pairs.remainder().first().copied();
    let n = src.len() / 2;
    if left.is_multiple_of(2) {
        // Source pairs land as (even, odd) of one padded pair.
        let (e, o) = (&mut even[q0..q0 + n], &mut odd[q0..q0 + n]);
        for ((e, o), pair) in e.iter_mut().zip(o.iter_mut()).zip(pairs) {
            *e = pair[0];
            *o = pair[1];
        }
        if let Some(v) = last {
            even[q0 + n] = v;
        }
    } else {
        // Shifted by one: source pair k lands as odd[q0 + k] and even[q0 + k + 1].
        let (e, o) = (&mut even[q0 + 1..q0 + 1 + n], &mut odd[q0..q0 + n]);
        for ((e, o), pair) in e.iter_mut().zip(o.iter_mut()).zip(pairs) {
            *o = pair[0];
            *e = pair[1];
        }
        if let Some(v) = last {
            odd[q0 + n] = v;
        }
    }
}

/// `V[e][ci][j] = (B^T d B)[e]` for the input patches `d` of tile rows `ty0..ty0 + rows`
/// (tile `j` of the block), `B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]`.
///
/// Tile `tx` reads padded columns `2tx..2tx + 4`, so with the padded rows split into even and
/// odd columns (`e`, `o`) its patch row is `e[tx], o[tx], e[tx + 1], o[tx + 1]`: every step
/// below is a loop over contiguous slices, which the compiler vectorises.
#[inline(always)]
fn transform_input<T: Real>(g: Geometry, x: &[T], ty0: usize, rows: usize, v: &mut [T]) {
    let tiles_w = g.ow.div_ceil(2);
    let nt = rows * tiles_w;
    let step = g.c * nt;
    let half = tiles_w + 1;
    // The block's input rows (each shared by two tile rows), split into even and odd padded
    // columns once, then rows 0..4 of one tile row's patches after B^T.
    let rows_in = 2 * rows + 2;
    let mut even_in = vec![T::ZERO; rows_in * half];
    let mut odd_in = vec![T::ZERO; rows_in * half];
    let mut t_even = vec![T::ZERO; 4 * half];
    let mut t_odd = vec![T::ZERO; 4 * half];
    for ci in 0..g.c {
        let plane = &x[ci * g.h * g.w..][..g.h * g.w];
        for yy in 0..rows_in {
            let y = (2 * ty0 + yy).wrapping_sub(g.top);
            let e = &mut even_in[yy * half..][..half];
            let o = &mut odd_in[yy * half..][..half];
            e.fill(T::ZERO);
            o.fill(T::ZERO);
            if y < g.h {
                split_columns(&plane[y * g.w..][..g.w], g.left, e, o);
            }
        }
        for r in 0..rows {
            let (even, odd) = (&even_in[2 * r * half..], &odd_in[2 * r * half..]);
            // B^T down the columns.
            for (src, dst) in [(even, &mut t_even), (odd, &mut t_odd)] {
                let (l0, l1, l2, l3) = (
                    &src[..half],
                    &src[half..2 * half],
                    &src[2 * half..3 * half],
                    &src[3 * half..4 * half],
                );
                let (d0, rest) = dst.split_at_mut(half);
                let (d1, rest) = rest.split_at_mut(half);
                let (d2, d3) = rest.split_at_mut(half);
                for q in 0..half {
                    d0[q] = l0[q] - l2[q];
                    d1[q] = l1[q] + l2[q];
                    d2[q] = l2[q] - l1[q];
                    d3[q] = l1[q] - l3[q];
                }
            }
            // B along the rows, into four planes of V per patch row.
            let at = ci * nt + r * tiles_w;
            for i in 0..4 {
                let (e, o) = (&t_even[i * half..][..half], &t_odd[i * half..][..half]);
                let (e0, e1, o0, o1) = (&e[..tiles_w], &e[1..], &o[..tiles_w], &o[1..]);
                let plane = |k: usize| (4 * i + k) * step + at;
                let dst = &mut v[plane(0)..][..tiles_w];
                for (d, (&a, &b)) in dst.iter_mut().zip(e0.iter().zip(e1)) {
                    *d = a - b;
                }
                let dst = &mut v[plane(1)..][..tiles_w];
                for (d, (&a, &b)) in dst.iter_mut().zip(o0.iter().zip(e1)) {
                    *d = a + b;
                }
                let dst = &mut v[plane(2)..][..tiles_w];
                for (d, (&a, &b)) in dst.iter_mut().zip(e1.iter().zip(o0)) {
                    *d = a - b;
                }
                let dst = &mut v[plane(3)..][..tiles_w];
                for (d, (&a, &b)) in dst.iter_mut().zip(o0.iter().zip(o1)) {
                    *d = a - b;
                }
            }
        }
    }
}

/// `out[ko][2ty + i][2tx + j] = (A^T M A)[i][j] + bias[ko]` for the tile rows
/// `ty0..ty0 + rows`, `A^T = [1 1 1 0; 0 1 -1 -1]`, dropping pixels past the output's edge.
#[inline(always)]
fn transform_output<T: Real>(
    g: Geometry,
    m: &[T],
    bias: Option<&[T]>,
    ty0: usize,
    rows: usize,
    mut out: ImageOut<T>,
) {
    let tiles_w = g.ow.div_ceil(2);
    let nt = rows * tiles_w;
    let step = g.k * nt;
    // A^T down the columns of each 4 x 4 tile: rows 0 and 1 of the result, 4 columns each.
    let mut s = vec![T::ZERO; 8 * tiles_w];
    for ko in 0..g.k {
        let b = bias.map_or(T::ZERO, |b| b[ko]);
        for r in 0..rows {
            let at = ko * nt + r * tiles_w;
            let ms = |e: usize| &m[e * step + at..][..tiles_w];
            let (s0, s1) = s.split_at_mut(4 * tiles_w);
            for c in 0..4 {
                let (m0, m1, m2, m3) = (ms(c), ms(4 + c), ms(8 + c), ms(12 + c));
                let d0 = &mut s0[c * tiles_w..][..tiles_w];
                for (d, ((&a, &p), &q)) in d0.iter_mut().zip(m0.iter().zip(m1).zip(m2)) {
                    *d = a + p + q;
                }
                let d1 = &mut s1[c * tiles_w..][..tiles_w];
                for (d, ((&a, &p), &q)) in d1.iter_mut().zip(m1.iter().zip(m2).zip(m3)) {
                    *d = a - p - q;
                }
            }
            // A along the rows, straight into the output rows (the second only if it exists),
            // interleaving the two output columns of each tile; an odd last column alone.
            let y = 2 * (ty0 + r);
            let (s0, s1) = s.split_at(4 * tiles_w);
            for (dy, sr) in [(0, s0), (1, s1)] {
                if y + dy >= g.oh {
                    break;
                }
                let (c0, c1, c2, c3) = (
                    &sr[..tiles_w],
                    &sr[tiles_w..2 * tiles_w],
                    &sr[2 * tiles_w..3 * tiles_w],
                    &sr[3 * tiles_w..],
                );
                let row = out.row((ko * g.oh + y + dy) * g.ow, g.ow);
                let mut pairs = row.chunks_exact_mut(2);
                for (tx, px) in (&mut pairs).enumerate() {
                    px[0] = c0[tx] + c1[tx] + c2[tx] + b;
                    px[1] = c1[tx] - c2[tx] - c3[tx] + b;
                }
                if let [px] = pairs.into_remainder() {
                    let tx = tiles_w - 1;
                    *px = c0[tx] + c1[tx] + c2[tx] + b;
                }
            }
        }
    }
}
