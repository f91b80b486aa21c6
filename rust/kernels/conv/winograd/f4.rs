//! Winograd F(4x4, 3x3): 6x6 input patches, 4x4 output tiles, 36 transformed positions (Lavin
//! and Gray's matrices). 1.78x fewer multiplies than F(2x2, 3x3) and less transformed data per
//! output pixel, for a little more rounding. The transforms run across [`WIDTH`] neighbouring
//! tiles of a tile row at once, so images need at least `WIDTH` tiles across.

use super::{Geometry, ImageOut};
use crate::kernels::real::Real;
use crate::kernels::workspace::Workspace;

/// Output pixels along each side of a tile: F(4x4, 3x3).
pub const TILE: usize = 4;
/// Side of a tile's input patch (`TILE + 2`).
const PATCH: usize = TILE + 2;
/// Transformed positions per tile (`PATCH^2`): one GEMM each.
pub const POSITIONS: usize = PATCH * PATCH;

/// `B^T d` for one column (or row) `d` of a 6x6 patch, with
/// `B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
/// 0 4 0 -5 0 1]` (Lavin and Gray's points 0, +-1, +-2), in 12 multiply-adds instead of 36.
#[inline(always)]
fn b_t<T: Real>(d: [Lanes<T>; 6]) -> [Lanes<T>; 6] {
    let c = Lanes::constant;
    let (two, four, five) = (c(2.0), c(4.0), c(5.0));
    let (s1, s2) = (d[4] - four * d[2], d[3] - four * d[1]);
    let (s3, s4) = (d[4] - d[2], two * (d[3] - d[1]));
    [
        four * d[0] - five * d[2] + d[4],
        s1 + s2,
        s1 - s2,
        s3 + s4,
        s3 - s4,
        four * d[1] - five * d[3] + d[5],
    ]
}

/// `A^T m` for one column (or row) `m` of a 6x6 product, with
/// `A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]`.
#[inline(always)]
fn a_t<T: Real>(m: [Lanes<T>; 6]) -> [Lanes<T>; 4] {
    let c = Lanes::constant;
    let (two, four, eight) = (c(2.0), c(4.0), c(8.0));
    let (p1, p2) = (m[1] + m[2], m[3] + m[4]);
    let (d1, d2) = (m[1] - m[2], m[3] - m[4]);
    [
        m[0] + p1 + p2,
        d1 + two * d2,
        p1 + four * p2,
        d1 + eight * d2 + m[5],
    ]
}

/// `A y` for one column (or row) `y` of a 4x4 tile of the output gradient (the adjoint of
/// [`a_t`]).
#[inline(always)]
fn a<T: Real>(y: [Lanes<T>; 4]) -> [Lanes<T>; 6] {
    let c = Lanes::constant;
    let (two, four) = (c(2.0), c(4.0));
    let (e, o) = (y[0] + y[2], y[1] + y[3]);
    let (e4, o4) = (y[0] + four * y[2], two * (y[1] + four * y[3]));
    [y[0], e + o, e - o, e4 + o4, e4 - o4, y[3]]
}

/// `G g` for one column (or row) `g` of a 3x3 filter, with
/// `G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]`.
fn g_mul<T: Real>(g: [T; 3]) -> [T; 6] {
    let f = T::from_f64;
    let (even, odd) = (g[0] + g[2], g[1]);
    let (e24, o12) = (
        f(1.0 / 24.0) * g[0] + f(1.0 / 6.0) * g[2],
        f(1.0 / 12.0) * g[1],
    );
    [
        f(0.25) * g[0],
        f(-1.0 / 6.0) * (even + odd),
        f(-1.0 / 6.0) * (even - odd),
        e24 + o12,
        e24 - o12,
        g[2],
    ]
}

/// `G^T u` for one column (or row) `u` of a 6x6 filter gradient (the adjoint of [`g_mul`]).
fn g_t<T: Real>(u: [T; 6]) -> [T; 3] {
    let f = T::from_f64;
    let (p12, d12, p34, d34) = (u[1] + u[2], u[2] - u[1], u[3] + u[4], u[3] - u[4]);
    [
        f(0.25) * u[0] - f(1.0 / 6.0) * p12 + f(1.0 / 24.0) * p34,
        f(1.0 / 6.0) * d12 + f(1.0 / 12.0) * d34,
        f(-1.0 / 6.0) * p12 + f(1.0 / 6.0) * p34 + u[5],
    ]
}

/// Lanes per step of [`map_lanes`]: one AVX2 vector of f32.
pub const WIDTH: usize = 8;

/// `WIDTH` neighbouring tiles' values of one transform entry, computed on together. The
/// operations are fixed-length loops over values (not over slices, which could alias), so
/// they compile to vector instructions.
#[derive(Clone, Copy)]
struct Lanes<T>([T; WIDTH]);

impl<T: Real> Lanes<T> {
    #[inline(always)]
    fn splat(v: T) -> Self {
        Self([v; WIDTH])
    }

    #[inline(always)]
    fn constant(v: f64) -> Self {
        Self::splat(T::from_f64(v))
    }
}

macro_rules! lanes_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl<T: Real> std::ops::$trait for Lanes<T> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: Self) -> Self {
                // A plain loop, not `array::from_fn`: its closure is not always inlined, and
                // then runs without the caller's instruction set.
                let mut out = self.0;
                for (o, &b) in out.iter_mut().zip(&other.0) {
                    *o $op b;
                }
                Self(out)
            }
        }
    };
}
lanes_op!(Add, add, +=);
lanes_op!(Sub, sub, -=);
lanes_op!(Mul, mul, *=);

/// `dst[o][q] = f(src[0][q], .., src[I-1][q])[o]` for `q < n`: one transform applied to runs
/// of at least `WIDTH` tiles, `WIDTH` at a time. The source and destination slices must not
/// overlap (the last step may recompute lanes).
#[inline(always)]
fn map_lanes<T: Real, const I: usize, const O: usize>(
    src: [&[T]; I],
    mut dst: [&mut [T]; O],
    n: usize,
    f: impl Fn([Lanes<T>; I]) -> [Lanes<T>; O],
) {
    // F(4x4) runs only where a tile row has at least WIDTH tiles (`Variant::for_width`), so
    // every run here fills a whole step.
    assert!(
        n >= WIDTH,
        "map_lanes: {n} lanes, fewer than one step of {WIDTH}"
    );
    // Steps of WIDTH, the last one ending at `n` (recomputing a few lanes of the one
    // before). One loop body, not a closure: a closure is compiled apart, without the
    // caller's instruction set.
    let last = n - WIDTH;
    for q in (0..last).step_by(WIDTH).chain(std::iter::once(last)) {
        // Fixed-length copies, so they stay vector loads and stores (not memcpy calls);
        // plain loops rather than `array::from_fn`, whose closure is not always inlined.
        let mut x = [Lanes([T::ZERO; WIDTH]); I];
        for (x, s) in x.iter_mut().zip(&src) {
            x.0 = <[T; WIDTH]>::try_from(&s[q..q + WIDTH]).expect("WIDTH elements");
        }
        for (d, v) in dst.iter_mut().zip(f(x)) {
            d[q..q + WIDTH].copy_from_slice(&v.0);
        }
    }
}

/// `N` equal-length slices of `data`, `stride` apart, starting at `start`: the same run of
/// `N` planes of a transformed buffer, read together. (A loop rather than `array::from_fn`,
/// whose closure machinery is not always inlined into the vectorised caller.)
#[inline(always)]
fn planes<T, const N: usize>(data: &[T], start: usize, stride: usize, len: usize) -> [&[T]; N] {
    let mut out: [&[T]; N] = [&[]; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = &data[start + i * stride..][..len];
    }
    out
}

/// `N` equal-length slices of `data`, `stride` apart, starting at `start`: the same run of
/// `N` planes of a transformed buffer, written together. (A loop too; see [`planes`].)
#[inline(always)]
fn planes_mut<T, const N: usize>(
    data: &mut [T],
    start: usize,
    stride: usize,
    len: usize,
) -> [&mut [T]; N] {
    use std::mem::MaybeUninit;
    let mut out: [MaybeUninit<&mut [T]>; N] = [const { MaybeUninit::uninit() }; N];
    let mut rest = &mut data[start..];
    for o in out.iter_mut() {
        let taken = std::mem::take(&mut rest);
        let cut = stride.min(taken.len());
        let (head, tail) = taken.split_at_mut(cut);
        rest = tail;
        o.write(&mut head[..len]);
    }
    // SAFETY: the loop wrote all N elements, and `MaybeUninit<X>` has the layout of `X`.
    unsafe { (&out as *const [MaybeUninit<&mut [T]>; N] as *const [&mut [T]; N]).read() }
}

/// `Z[e][ko][j] = (A dy A^T)[e]` for the 4x4 tiles `dy` of the output gradient in tile rows
/// `ty0..ty0 + rows` (zero past the output's edge; see [`a`]).
#[inline(always)]
pub fn transform_grad_output<T: Real>(
    g: Geometry,
    dy: &[T],
    ty0: usize,
    rows: usize,
    (nt, col0): (usize, usize),
    z: &mut [T],
) {
    let tiles_w = g.ow.div_ceil(TILE);
    let step = g.k * nt;
    let n = TILE * tiles_w;
    // A tile row's output rows, each split into its column phases (column `4tx + j` at
    // `[j][tx]`), and A applied down the columns (PATCH rows of phases).
    let mut phases = vec![T::ZERO; TILE * n];
    let mut down = vec![T::ZERO; PATCH * n];
    for ko in 0..g.k {
        let plane = &dy[ko * g.oh * g.ow..][..g.oh * g.ow];
        for r in 0..rows {
            phases.fill(T::ZERO);
            for (i, dst) in phases.chunks_exact_mut(n).enumerate() {
                let y = TILE * (ty0 + r) + i;
                if y < g.oh {
                    deinterleave(&plane[y * g.ow..][..g.ow], tiles_w, dst);
                }
            }
            let src: [&[T]; TILE] = planes(&phases, 0, n, n);
            map_lanes(
                src,
                planes_mut(&mut down, 0, n, n),
                n,
                #[inline(always)]
                |v| a(v),
            );
            // A along the rows: column j of the tile is phase j.
            let at = ko * nt + col0 + r * tiles_w;
            for (i, row) in down.chunks_exact(n).enumerate() {
                let src: [&[T]; TILE] = planes(row, 0, tiles_w, tiles_w);
                let dst = planes_mut(z, i * PATCH * step + at, step, tiles_w);
                map_lanes(
                    src,
                    dst,
                    tiles_w,
                    #[inline(always)]
                    |v| a(v),
                );
            }
        }
    }
}

/// Split a row into its `TILE` column phases: element `TILE * q + j` to `dst[j * len + q]`
/// (`dst` is `TILE * len` long and zeroed past the row's end by the caller).
#[inline(always)]
fn deinterleave<T: Real>(row: &[T], len: usize, dst: &mut [T]) {
    let [d0, d1, d2, d3]: [&mut [T]; TILE] = planes_mut(dst, 0, len, len);
    // WIDTH quads at a time through fixed-size arrays (shuffles in vector registers), then
    // quad by quad.
    let mut blocks = row.chunks_exact(TILE * WIDTH);
    for (b, block) in (&mut blocks).enumerate() {
        let block = <&[T; TILE * WIDTH]>::try_from(block).expect("TILE * WIDTH elements");
        let q = b * WIDTH;
        for (j, d) in [&mut *d0, &mut *d1, &mut *d2, &mut *d3]
            .into_iter()
            .enumerate()
        {
            let mut phase = [T::ZERO; WIDTH];
            for (l, v) in phase.iter_mut().enumerate() {
                *v = block[TILE * l + j];
            }
            d[q..q + WIDTH].copy_from_slice(&phase);
        }
    }
    let done = row.len() / (TILE * WIDTH) * WIDTH;
    let rest = blocks.remainder();
    let mut quads = rest.chunks_exact(TILE);
    for (i, quad) in (&mut quads).enumerate() {
        d0[done + i] = quad[0];
        d1[done + i] = quad[1];
        d2[done + i] = quad[2];
        d3[done + i] = quad[3];
    }
    let q = row.len() / TILE;
    for (j, &v) in quads.remainder().iter().enumerate() {
        [&mut *d0, &mut *d1, &mut *d2][j][q] = v;
    }
}

/// `U[e][ko][ci] = (G g G^T)[e]` for the filters `g(ko, ci, y, x)`, laid out as
/// [`POSITIONS`] row-major `k x c` matrices.
pub fn transform_filters<T: Real>(
    k: usize,
    c: usize,
    g: impl Fn(usize, usize, usize, usize) -> T,
) -> Workspace<T> {
    let mut u = Workspace::take(POSITIONS * k * c);
    for ko in 0..k {
        for ci in 0..c {
            // G down the columns, then along the rows.
            let columns: [[T; PATCH]; 3] =
                std::array::from_fn(|x| g_mul(std::array::from_fn(|y| g(ko, ci, y, x))));
            for i in 0..PATCH {
                let row = g_mul(std::array::from_fn(|x| columns[x][i]));
                for (j, &v) in row.iter().enumerate() {
                    u[((i * PATCH + j) * k + ko) * c + ci] = v;
                }
            }
        }
    }
    u
}

/// `dg = G^T dU G` for every filter, from the summed `dU` ([`POSITIONS`] row-major `k x c`
/// matrices) into `grad_weight` (`k x c x 3 x 3`).
pub fn filter_grad<T: Real>(du_sum: &[T], k: usize, c: usize, grad_weight: &mut [T]) {
    // dg = G^T dU G: G^T down the columns of dU, then along the rows.
    for ko in 0..k {
        for ci in 0..c {
            let du = |e: usize| du_sum[(e * k + ko) * c + ci];
            let columns: [[T; 3]; PATCH] =
                std::array::from_fn(|j| g_t(std::array::from_fn(|i| du(i * PATCH + j))));
            for y in 0..3 {
                let row = g_t(std::array::from_fn(|j| columns[j][y]));
                grad_weight[((ko * c + ci) * 3 + y) * 3..][..3].copy_from_slice(&row);
            }
        }
    }
}

/// `V[e][ci][j] = (B^T d B)[e]` for the 6x6 input patches `d` of tile rows
/// `ty0..ty0 + rows` (tile `j` of the block; see [`b_t`]).
///
/// Tile `tx` reads padded columns `4tx..4tx + 6`, so with each padded row split into its four
/// column phases (`p_j[q]` = column `4q + j`) its patch row is `p_0[tx], p_1[tx], p_2[tx],
/// p_3[tx], p_0[tx + 1], p_1[tx + 1]`: every step below is a loop over contiguous slices,
/// which the compiler vectorises.
#[inline(always)]
pub fn transform_input<T: Real>(
    g: Geometry,
    x: &[T],
    ty0: usize,
    rows: usize,
    (nt, col0): (usize, usize),
    v: &mut [T],
) {
    let tiles_w = g.ow.div_ceil(TILE);
    let step = g.c * nt;
    // Entries per phase, and per split row.
    let len = tiles_w + 1;
    let n = TILE * len;
    // The block's input rows (each shared by two tile rows), zero-padded and split into
    // phases once; then B^T down the columns of one tile row's patches.
    let rows_in = TILE * rows + 2;
    let mut split = vec![T::ZERO; rows_in * n];
    // One padded row: only `left..left + w` is ever written, so the padding stays zero.
    let mut padded = vec![T::ZERO; n];
    let mut down = vec![T::ZERO; PATCH * n];
    for ci in 0..g.c {
        let plane = &x[ci * g.h * g.w..][..g.h * g.w];
        for (yy, dst) in split.chunks_exact_mut(n).enumerate() {
            let y = (TILE * ty0 + yy).wrapping_sub(g.top);
            if y < g.h {
                padded[g.left..g.left + g.w].copy_from_slice(&plane[y * g.w..][..g.w]);
                deinterleave(&padded, len, dst);
            } else {
                dst.fill(T::ZERO);
            }
        }
        for r in 0..rows {
            let src: [&[T]; PATCH] = planes(&split, TILE * r * n, n, n);
            map_lanes(
                src,
                planes_mut(&mut down, 0, n, n),
                n,
                #[inline(always)]
                |v| b_t(v),
            );
            // B along the rows, into PATCH planes of V per patch row.
            let at = ci * nt + col0 + r * tiles_w;
            for (i, row) in down.chunks_exact(n).enumerate() {
                let phase = |j: usize, shift: usize| &row[j * len + shift..][..tiles_w];
                let src = [
                    phase(0, 0),
                    phase(1, 0),
                    phase(2, 0),
                    phase(3, 0),
                    phase(0, 1),
                    phase(1, 1),
                ];
                let dst = planes_mut(v, i * PATCH * step + at, step, tiles_w);
                map_lanes(
                    src,
                    dst,
                    tiles_w,
                    #[inline(always)]
                    |v| b_t(v),
                );
            }
        }
    }
}

/// `out[ko][4ty + i][4tx + j] = (A^T M A)[i][j] + bias[ko]` for the tile rows
/// `ty0..ty0 + rows` (see [`a_t`]), dropping pixels past the output's edge.
#[inline(always)]
pub fn transform_output<T: Real>(
    g: Geometry,
    m: &[T],
    bias: Option<&[T]>,
    ty0: usize,
    rows: usize,
    (nt, col0): (usize, usize),
    mut out: ImageOut<T>,
) {
    let tiles_w = g.ow.div_ceil(TILE);
    let step = g.k * nt;
    // A^T down the columns of each 6x6 product: `down[i][col][tx]`, TILE rows of PATCH
    // columns; then A^T along the rows into `pixels[j][tx]`, interleaved into the output.
    let mut down = vec![T::ZERO; TILE * PATCH * tiles_w];
    let mut pixels = vec![T::ZERO; TILE * tiles_w];
    for ko in 0..g.k {
        let b = bias.map_or(T::ZERO, |b| b[ko]);
        for r in 0..rows {
            let at = ko * nt + col0 + r * tiles_w;
            for col in 0..PATCH {
                let src: [&[T]; PATCH] = planes(m, col * step + at, PATCH * step, tiles_w);
                let dst = planes_mut(&mut down, col * tiles_w, PATCH * tiles_w, tiles_w);
                map_lanes(
                    src,
                    dst,
                    tiles_w,
                    #[inline(always)]
                    |v| a_t(v),
                );
            }
            for (i, row_of_cols) in down.chunks_exact(PATCH * tiles_w).enumerate() {
                let y = TILE * (ty0 + r) + i;
                if y >= g.oh {
                    break;
                }
                let src: [&[T]; PATCH] = planes(row_of_cols, 0, tiles_w, tiles_w);
                let dst = planes_mut(&mut pixels, 0, tiles_w, tiles_w);
                let b = Lanes::splat(b);
                map_lanes(
                    src,
                    dst,
                    tiles_w,
                    #[inline(always)]
                    |m| a_t(m).map(|v| v + b),
                );
                let row = out.row((ko * g.oh + y) * g.ow, g.ow);
                let (p0, rest) = pixels.split_at(tiles_w);
                let (p1, rest) = rest.split_at(tiles_w);
                let (p2, p3) = rest.split_at(tiles_w);
                // WIDTH tiles at a time through a fixed-size array (shuffles in vector
                // registers), then tile by tile.
                let mut blocks = row.chunks_exact_mut(TILE * WIDTH);
                for (b, block) in (&mut blocks).enumerate() {
                    let t0 = b * WIDTH;
                    let mut quads = [T::ZERO; TILE * WIDTH];
                    for (j, p) in [p0, p1, p2, p3].into_iter().enumerate() {
                        let p = <&[T; WIDTH]>::try_from(&p[t0..t0 + WIDTH]).expect("WIDTH tiles");
                        for (l, &v) in p.iter().enumerate() {
                            quads[TILE * l + j] = v;
                        }
                    }
                    block.copy_from_slice(&quads);
                }
                let done = g.ow / (TILE * WIDTH) * WIDTH;
                let mut quads = blocks.into_remainder().chunks_exact_mut(TILE);
                for (i, px) in (&mut quads).enumerate() {
                    px[0] = p0[done + i];
                    px[1] = p1[done + i];
                    px[2] = p2[done + i];
                    px[3] = p3[done + i];
                }
                let tx = g.ow / TILE;
                for (j, px) in quads.into_remainder().iter_mut().enumerate() {
                    *px = [p0, p1, p2][j][tx];
                }
            }
        }
    }
}
