//! The dense layer `y = x W^T + b` and its backward pass, built on the GEMM.
//!
//! One call does a layer's whole forward (the bias is the GEMM's starting value, so adding it
//! costs no extra pass over the output) or its whole backward (`dx = g W`, `dW = g^T x`,
//! `db = column sums of g`). From Python that is one crossing per layer and direction instead
//! of three or four, which is most of the cost of small layers.

use super::matmul::{matmul, MatMut, MatRef};
use super::real::Real;

/// `out = x @ w^T + bias` (or `x @ w^T` without a bias).
///
/// Shapes: `x` is `(n, in)`, `w` is `(out, in)`, `bias` has `out` entries, and `out` is a
/// row-major `(n, out)` buffer. Strided views are read in place.
pub fn forward<T: Real>(
    x: MatRef<T>,
    w: MatRef<T>,
    bias: Option<&[T]>,
    out: &mut [T],
) -> Result<(), String> {
    let (n, features_out) = (x.rows, w.rows);
    if x.cols != w.cols {
        return Err(format!(
            "linear: input has {} features but weight is {}x{}",
            x.cols, w.rows, w.cols
        ));
    }
    if out.len() != n * features_out {
        return Err(format!(
            "linear: output has {} elements but {n}x{features_out} are needed",
            out.len()
        ));
    }
    if let Some(b) = bias {
        if b.len() != features_out {
            return Err(format!(
                "linear: bias has {} entries but weight has {features_out} rows",
                b.len()
            ));
        }
        if features_out > 0 {
            for row in out.chunks_exact_mut(features_out) {
                row.copy_from_slice(b);
            }
        }
    }
    let c = MatMut::row_major(out, n, features_out);
    matmul(x, w.t(), c, bias.is_some())
}

/// The gradients of `y = x @ w^T + b` given `g = dL/dy` (`(n, out)`):
/// `grad_x = g @ w` (`(n, in)`), `grad_w = g^T @ x` (`(out, in)`) and `grad_b` = the column
/// sums of `g` (`out` entries). Each is computed only when its buffer is given; all are
/// row-major and overwritten.
pub fn backward<T: Real>(
    g: MatRef<T>,
    x: MatRef<T>,
    w: MatRef<T>,
    grad_x: Option<&mut [T]>,
    grad_w: Option<&mut [T]>,
    grad_b: Option<&mut [T]>,
) -> Result<(), String> {
    let (n, features_out, features_in) = (x.rows, w.rows, w.cols);
    if x.cols != features_in || g.rows != n || g.cols != features_out {
        return Err(format!(
            "linear backward: grad is {}x{}, input {}x{} and weight {}x{}; expected grad \
             {n}x{features_out} and input {n}x{features_in}",
            g.rows, g.cols, x.rows, x.cols, w.rows, w.cols
        ));
    }
    if let Some(gx) = grad_x {
        check_len("grad_x", gx.len(), n * features_in)?;
        matmul(g, w, MatMut::row_major(gx, n, features_in), false)?;
    }
    if let Some(gw) = grad_w {
        check_len("grad_w", gw.len(), features_out * features_in)?;
        matmul(
            g.t(),
            x,
            MatMut::row_major(gw, features_out, features_in),
            false,
        )?;
    }
    if let Some(gb) = grad_b {
        check_len("grad_b", gb.len(), features_out)?;
        column_sums(g, gb)?;
    }
    Ok(())
}

fn check_len(name: &str, got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "linear backward: {name} has {got} elements but {want} are needed"
        ))
    }
}

/// `out[j] = sum_i g[i, j]`, adding rows in order (as NumPy's `g.sum(axis=0)` does for a
/// row-major `g`, so the two agree to the last bit there).
pub fn column_sums<T: Real>(g: MatRef<T>, out: &mut [T]) -> Result<(), String> {
    if out.len() != g.cols {
        return Err(format!(
            "column sums: output has {} entries but the matrix has {} columns",
            out.len(),
            g.cols
        ));
    }
    let need = super::matmul::extent(g.rows, g.cols, g.row_stride, g.col_stride);
    if g.data.len() < need {
        return Err(format!(
            "column sums: matrix needs {need} elements but has {}",
            g.data.len()
        ));
    }
    out.fill(T::ZERO);
    if g.cols == 0 {
        return Ok(());
    }
    for i in 0..g.rows {
        let start = i * g.row_stride;
        if g.col_stride == 1 {
            let row = &g.data[start..start + g.cols];
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        } else {
            for (j, o) in out.iter_mut().enumerate() {
                *o += g.data[start + j * g.col_stride];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// `y[i][o] = b[o] + sum_k x[i][k] w[o][k]`, written out.
    fn naive_forward(
        x: &[f64],
        w: &[f64],
        b: Option<&[f64]>,
        n: usize,
        fi: usize,
        fo: usize,
    ) -> Vec<f64> {
        let mut y = vec![0.0; n * fo];
        for i in 0..n {
            for o in 0..fo {
                let mut s = b.map_or(0.0, |b| b[o]);
                for k in 0..fi {
                    s += x[i * fi + k] * w[o * fi + k];
                }
                y[i * fo + o] = s;
            }
        }
        y
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                "element {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn forward_matches_naive_loops() {
        for &(n, fi, fo) in &[
            (1, 4, 8),
            (3, 1, 1),
            (17, 33, 9),
            (64, 130, 70),
            (0, 3, 2),
            (2, 0, 3),
        ] {
            let x = random(n * fi, 1);
            let w = random(fo * fi, 2);
            let b = random(fo, 3);
            for bias in [None, Some(&b[..])] {
                let mut y = vec![f64::NAN; n * fo];
                forward(
                    MatRef::row_major(&x, n, fi),
                    MatRef::row_major(&w, fo, fi),
                    bias,
                    &mut y,
                )
                .unwrap();
                close(&y, &naive_forward(&x, &w, bias, n, fi, fo));
            }
        }
    }

    #[test]
    fn forward_reads_a_transposed_input_in_place() {
        let (n, fi, fo) = (5, 7, 3);
        let xt = random(fi * n, 4); // stored (fi, n): x = xt^T
        let w = random(fo * fi, 5);
        let mut y = vec![0.0; n * fo];
        forward(
            MatRef::row_major(&xt, fi, n).t(),
            MatRef::row_major(&w, fo, fi),
            None,
            &mut y,
        )
        .unwrap();
        let x: Vec<f64> = (0..n * fi)
            .map(|idx| xt[(idx % fi) * n + idx / fi])
            .collect();
        close(&y, &naive_forward(&x, &w, None, n, fi, fo));
    }

    #[test]
    fn backward_matches_naive_loops() {
        let (n, fi, fo) = (6, 5, 4);
        let (x, w, g) = (random(n * fi, 6), random(fo * fi, 7), random(n * fo, 8));
        let (mut gx, mut gw, mut gb) = (vec![0.0; n * fi], vec![0.0; fo * fi], vec![0.0; fo]);
        backward(
            MatRef::row_major(&g, n, fo),
            MatRef::row_major(&x, n, fi),
            MatRef::row_major(&w, fo, fi),
            Some(&mut gx),
            Some(&mut gw),
            Some(&mut gb),
        )
        .unwrap();
        let mut want_gx = vec![0.0; n * fi];
        let mut want_gw = vec![0.0; fo * fi];
        let mut want_gb = vec![0.0; fo];
        for i in 0..n {
            for o in 0..fo {
                want_gb[o] += g[i * fo + o];
                for k in 0..fi {
                    want_gx[i * fi + k] += g[i * fo + o] * w[o * fi + k];
                    want_gw[o * fi + k] += g[i * fo + o] * x[i * fi + k];
                }
            }
        }
        close(&gx, &want_gx);
        close(&gw, &want_gw);
        close(&gb, &want_gb);
    }

    #[test]
    fn backward_computes_only_what_is_asked() {
        let (g, x, w) = (random(6, 9), random(6, 10), random(9, 11)); // n 2, in 3, out 3
        let mut gb = vec![7.0; 3];
        backward(
            MatRef::row_major(&g, 2, 3),
            MatRef::row_major(&x, 2, 3),
            MatRef::row_major(&w, 3, 3),
            None,
            None,
            Some(&mut gb),
        )
        .unwrap();
        close(&gb, &[g[0] + g[3], g[1] + g[4], g[2] + g[5]]);
    }

    #[test]
    fn column_sums_of_a_strided_view() {
        let m = random(12, 12); // stored 3x4; sum the columns of its 4x3 transpose
        let mut out = vec![0.0; 3];
        column_sums(MatRef::row_major(&m, 3, 4).t(), &mut out).unwrap();
        let want: Vec<f64> = (0..3).map(|r| m[r * 4..r * 4 + 4].iter().sum()).collect();
        close(&out, &want);
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let v = vec![0.0f32; 64];
        let mut out = vec![0.0f32; 6];
        let x = MatRef::row_major(&v[..6], 2, 3);
        assert!(forward(x, MatRef::row_major(&v[..8], 2, 4), None, &mut out).is_err());
        assert!(forward(x, MatRef::row_major(&v[..9], 3, 3), None, &mut out[..5]).is_err());
        let w = MatRef::row_major(&v[..9], 3, 3);
        assert!(forward(x, w, Some(&v[..2]), &mut out).is_err());
        let g = MatRef::row_major(&v[..4], 2, 2);
        assert!(backward(g, x, w, None, None, Some(&mut out[..3])).is_err());
        assert!(column_sums(g, &mut out[..3]).is_err());
    }
}
