//! Matrix multiplication on strided views: `C = A @ B` or `C += A @ B`.
//!
//! Strides are in elements and may be anything non-negative, so a transposed operand (the
//! `A^T B` and `A B^T` of a linear layer's backward pass) is read in place, never copied.

use super::real::Real;
use crate::threading;

/// A read-only `rows x cols` matrix whose element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// A writable strided matrix, laid out like [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a, T> {
    pub data: &'a mut [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// How many elements a strided `rows x cols` view spans from its first element.
pub fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major (C-contiguous) view.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view of the same data.
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    fn check(&self, name: &str) -> Result<(), String> {
        let need = extent(self.rows, self.cols, self.row_stride, self.col_stride);
        if self.data.len() < need {
            return Err(format!(
                "matmul: {name} needs {need} elements but has {}",
                self.data.len()
            ));
        }
        Ok(())
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A row-major (C-contiguous) view.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
}

/// Below this many multiply-adds one thread is faster than waking the pool.
const PARALLEL_FLOPS: usize = 96 * 96 * 96;

/// `C = A @ B`, or `C += A @ B` when `accumulate` is true.
///
/// Errors (never panics) when the shapes disagree or a slice is shorter than its view.
pub fn matmul<T: Real>(
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
    accumulate: bool,
) -> Result<(), String> {
    if a.cols != b.rows {
        return Err(format!(
            "matmul: A is {}x{} but B is {}x{}; A's columns must equal B's rows",
            a.rows, a.cols, b.rows, b.cols
        ));
    }
    if c.rows != a.rows || c.cols != b.cols {
        return Err(format!(
            "matmul: output is {}x{} but A @ B is {}x{}",
            c.rows, c.cols, a.rows, b.cols
        ));
    }
    a.check("A")?;
    b.check("B")?;
    let need = extent(c.rows, c.cols, c.row_stride, c.col_stride);
    if c.data.len() < need {
        return Err(format!(
            "matmul: C needs {need} elements but has {}",
            c.data.len()
        ));
    }
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    c.data[i * c.row_stride + j * c.col_stride] = T::ZERO;
                }
            }
        }
        return Ok(());
    }
    let threads = threading::num_threads();
    let parallel = threads > 1 && m * n * k >= PARALLEL_FLOPS;
    // Raw pointers are not Send; carry the addresses into the pool as integers.
    let (c_ptr, a_ptr, b_ptr) = (
        c.data.as_mut_ptr() as usize,
        a.data.as_ptr() as usize,
        b.data.as_ptr() as usize,
    );
    let run = move |par: gemm::Parallelism| {
        // SAFETY: the extents were checked above, so every index gemm forms is in bounds; the
        // output does not alias the inputs because it is borrowed mutably.
        // gemm computes dst = alpha * dst + beta * (lhs @ rhs): the reverse of BLAS's names.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c_ptr as *mut T,
                c.col_stride as isize,
                c.row_stride as isize,
                accumulate,
                a_ptr as *const T,
                a.col_stride as isize,
                a.row_stride as isize,
                b_ptr as *const T,
                b.col_stride as isize,
                b.row_stride as isize,
                T::ONE, // alpha: weight of the existing C (read only when accumulating)
                T::ONE, // beta: weight of A @ B
                false,
                false,
                false,
                par,
            )
        }
    };
    if parallel {
        threading::install(|| run(gemm::Parallelism::Rayon(threads)));
    } else {
        run(gemm::Parallelism::None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn naive(a: &MatRef<f64>, b: &MatRef<f64>) -> Vec<f64> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0;
                for p in 0..a.cols {
                    s += a.data[i * a.row_stride + p * a.col_stride]
                        * b.data[p * b.row_stride + j * b.col_stride];
                }
                c[i * b.cols + j] = s;
            }
        }
        c
    }

    #[test]
    fn matches_naive_for_odd_and_transposed_shapes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 33, 9),
            (64, 1, 64),
            (130, 70, 129),
        ] {
            for transpose_a in [false, true] {
                for transpose_b in [false, true] {
                    let av: Vec<f64> = (0..m * k).map(|_| rng.random::<f64>() - 0.5).collect();
                    let bv: Vec<f64> = (0..k * n).map(|_| rng.random::<f64>() - 0.5).collect();
                    let a = if transpose_a {
                        MatRef::row_major(&av, k, m).t()
                    } else {
                        MatRef::row_major(&av, m, k)
                    };
                    let b = if transpose_b {
                        MatRef::row_major(&bv, n, k).t()
                    } else {
                        MatRef::row_major(&bv, k, n)
                    };
                    let want = naive(&a, &b);
                    let mut got = vec![1.0; m * n];
                    matmul(a, b, MatMut::row_major(&mut got, m, n), false).unwrap();
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - w).abs() < 1e-10, "{m}x{k}x{n}: {g} vs {w}");
                    }
                    matmul(a, b, MatMut::row_major(&mut got, m, n), true).unwrap();
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - 2.0 * w).abs() < 1e-10);
                    }
                }
            }
        }
    }

    #[test]
    fn f32_large_parallel() {
        let (m, k, n) = (200, 150, 180);
        let av: Vec<f32> = (0..m * k).map(|i| ((i % 13) as f32 - 6.0) / 7.0).collect();
        let bv: Vec<f32> = (0..k * n).map(|i| ((i % 11) as f32 - 5.0) / 5.0).collect();
        let mut got = vec![0.0f32; m * n];
        matmul(
            MatRef::row_major(&av, m, k),
            MatRef::row_major(&bv, k, n),
            MatMut::row_major(&mut got, m, n),
            false,
        )
        .unwrap();
        for i in (0..m).step_by(17) {
            for j in (0..n).step_by(13) {
                let w: f64 = (0..k)
                    .map(|p| av[i * k + p] as f64 * bv[p * n + j] as f64)
                    .sum();
                assert!((got[i * n + j] as f64 - w).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let mut c = vec![5.0f32; 6];
        matmul(
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 3),
            MatMut::row_major(&mut c, 2, 3),
            false,
        )
        .unwrap();
        assert!(c.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let a = [0.0f32; 6];
        let mut c = [0.0f32; 4];
        let err = matmul(
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&a, 2, 3),
            MatMut::row_major(&mut c, 2, 2),
            false,
        );
        assert!(err.unwrap_err().contains("2x3"));
    }
}
