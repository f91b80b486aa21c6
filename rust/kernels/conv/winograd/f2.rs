//! Winograd F(2x2, 3x3): 4x4 input patches, 2x2 output tiles, 16 transformed positions.
//! For images too narrow to fill [`super::f4`]'s vectors.

use super::{Geometry, ImageOut};
use crate::kernels::real::Real;
use crate::kernels::workspace::Workspace;

/// Output pixels along each side of a tile.
pub const TILE: usize = 2;
/// Transformed positions per tile (a 4x4 patch): one GEMM each.
pub const POSITIONS: usize = 16;

/// `U[e][ko][ci] = (G g G^T)[e]` for the filters `g(ko, ci, y, x)`, laid out as 16 row-major
/// `k x c` matrices.
pub fn transform_filters<T: Real>(
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

/// `dg = G^T dU G` for every filter, from the summed `dU` ([`POSITIONS`] row-major `k x c`
/// matrices) into `grad_weight` (`k x c x 3 x 3`).
pub fn filter_grad<T: Real>(du_sum: &[T], k: usize, c: usize, grad_weight: &mut [T]) {
    // dg = G^T dU G, with G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
    let half = T::from_f64(0.5);
    let gt = |r: [T; 4]| {
        [
            r[0] + (r[1] + r[2]) * half,
            (r[1] - r[2]) * half,
            (r[1] + r[2]) * half + r[3],
        ]
    };
    for ko in 0..k {
        for ci in 0..c {
            let du = |e: usize| du_sum[(e * k + ko) * c + ci];
            // G^T along the columns of dU, then G along the rows.
            let columns: [[T; 3]; 4] =
                std::array::from_fn(|j| gt([du(j), du(4 + j), du(8 + j), du(12 + j)]));
            for y in 0..3 {
                let row = gt([columns[0][y], columns[1][y], columns[2][y], columns[3][y]]);
                grad_weight[((ko * c + ci) * 3 + y) * 3..][..3].copy_from_slice(&row);
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
pub fn transform_grad_output<T: Real>(
    g: Geometry,
    dy: &[T],
    ty0: usize,
    rows: usize,
    (nt, col0): (usize, usize),
    z: &mut [T],
) {
    let tiles_w = g.ow.div_ceil(2);
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
            let at = ko * nt + col0 + r * tiles_w;
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
pub fn transform_input<T: Real>(
    g: Geometry,
    x: &[T],
    ty0: usize,
    rows: usize,
    (nt, col0): (usize, usize),
    v: &mut [T],
) {
    let tiles_w = g.ow.div_ceil(2);
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
            let at = ci * nt + col0 + r * tiles_w;
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
pub fn transform_output<T: Real>(
    g: Geometry,
    m: &[T],
    bias: Option<&[T]>,
    ty0: usize,
    rows: usize,
    (nt, col0): (usize, usize),
    mut out: ImageOut<T>,
) {
    let tiles_w = g.ow.div_ceil(2);
    let step = g.k * nt;
    // A^T down the columns of each 4 x 4 tile: rows 0 and 1 of the result, 4 columns each.
    let mut s = vec![T::ZERO; 8 * tiles_w];
    for ko in 0..g.k {
        let b = bias.map_or(T::ZERO, |b| b[ko]);
        for r in 0..rows {
            let at = ko * nt + col0 + r * tiles_w;
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
