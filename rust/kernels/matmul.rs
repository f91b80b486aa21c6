//! Matrix multiplication on strided views: `C = A @ B` or `C += A @ B`.
//!
//! Strides are in elements and may be anything non-negative, so a transposed operand (the
//! `A^T B` and `A B^T` of a linear layer's backward pass) is read in place, never copied.

use super::gemv;
#[cfg(target_arch = "x86_64")]
use super::packed_gemm;
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

/// How many elements a strided `rows x cols` view spans from its first element (saturating,
/// so absurd strides read as "too long for any slice" instead of wrapping around).
pub fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        ((rows - 1).saturating_mul(row_stride))
            .saturating_add((cols - 1).saturating_mul(col_stride))
            .saturating_add(1)
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

    /// A view of `rows` rows of `cols` elements, each `row_stride` after the last.
    pub fn strided_rows(data: &'a [T], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
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
        Self::strided_rows(data, rows, cols, cols)
    }

    /// A view of `rows` rows of `cols` elements, each `row_stride` after the last.
    pub fn strided_rows(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }
}

/// Below this many multiply-adds one thread is faster than waking the pool (portable path).
const PARALLEL_FLOPS: usize = 96 * 96 * 96;

/// Which implementation computes the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The fastest this CPU supports: the packed GEMM with AVX-512 or AVX2 kernels where
    /// available, else portable.
    Auto,
    /// The packed GEMM with a chosen instruction set (tests run each one the CPU has).
    #[cfg(target_arch = "x86_64")]
    #[cfg_attr(not(test), allow(dead_code))]
    Packed(packed_gemm::Isa),
    /// The `gemm` crate, which runs on any CPU (AVX2/FMA or NEON where available).
    // Only tests choose it on x86-64 with AVX2; elsewhere `Auto` falls back to it.
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
}

/// `C = A @ B`, or `C += A @ B` when `accumulate` is true.
///
/// Large products are split across dlcore's threads. Called from inside dlcore's pool (say,
/// per sample in a parallel loop) it runs on the calling thread: the work is already
/// spread, and splitting it again only adds overhead.
///
/// Errors (never panics) when the shapes disagree, a slice is shorter than its view, or C's
/// strides make two of its elements share memory.
pub fn matmul<T: Real>(
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
    accumulate: bool,
) -> Result<(), String> {
    let inside_pool = rayon::current_thread_index().is_some();
    let threads = if inside_pool {
        1
    } else {
        threading::num_threads()
    };
    matmul_with(Backend::Auto, threads, a, b, c, accumulate)
}

/// [`matmul`] on a chosen backend with up to `threads` threads (tests run every choice).
pub(crate) fn matmul_with<T: Real>(
    backend: Backend,
    threads: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    mut c: MatMut<T>,
    accumulate: bool,
) -> Result<(), String> {
    check(&a, &b, &c)?;
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
    if threads > 1 && splits_depth(m, n, k) {
        return depth_split(backend, threads, a, b, c, accumulate);
    }
    if gemv::try_gemv(&a, &b, &mut c, accumulate, threads) {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    let packed = match backend {
        Backend::Auto => packed_gemm::Isa::best(),
        Backend::Packed(isa) => Some(isa),
        Backend::Portable => None,
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = packed {
        let view = |x: &MatRef<T>| packed_gemm::View {
            ptr: x.data.as_ptr(),
            rs: x.row_stride,
            cs: x.col_stride,
        };
        let out = packed_gemm::ViewMut {
            ptr: c.data.as_mut_ptr(),
            rs: c.row_stride,
            cs: c.col_stride,
        };
        // SAFETY: `isa` is supported (`best` checked, or tests did); `check` verified every view lies inside its slice
        // and that C's elements are distinct; C is borrowed mutably, so it cannot overlap A
        // or B; k >= 1.
        let done = unsafe {
            packed_gemm::matmul(isa, (m, n, k), view(&a), view(&b), out, accumulate, threads)
        };
        if done {
            return Ok(());
        }
    }
    portable((m, n, k), a, b, c, accumulate, threads);
    Ok(())
}

/// Outputs up to this many elements with a depth of at least [`SPLIT_MIN_DEPTH`] are split
/// along the depth instead of across the output.
const SPLIT_MAX_OUTPUT: usize = 64 * 64;
const SPLIT_MIN_DEPTH: usize = 2048;

/// Whether a product is a small output summed over a long depth (a convolution's weight
/// gradient: `(C_out, N*H*W) @ (N*H*W, C_in*KH*KW)`). Its output is one or two GEMM tiles,
/// so splitting the output leaves all but one thread idle; splitting the depth does not.
fn splits_depth(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n) <= SPLIT_MAX_OUTPUT
        && k >= SPLIT_MIN_DEPTH
        && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FLOPS
}

/// `C (+)= A @ B` as the sum of `threads` partial products over slices of the depth, each
/// computed serially on its own thread into its own buffer, then added in a fixed order.
fn depth_split<T: Real>(
    backend: Backend,
    threads: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
    accumulate: bool,
) -> Result<(), String> {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let parts = threads.min(k / (SPLIT_MIN_DEPTH / 2)).max(1);
    let step = k.div_ceil(parts);
    let partial = |_, p: usize| -> Result<Vec<T>, String> {
        let (start, end) = (p * step, ((p + 1) * step).min(k));
        let mut part = vec![T::ZERO; m * n];
        if start < end {
            // Columns start..end of A and rows start..end of B, as views. `check` made sure
            // both views lie inside their slices, so these offsets do too.
            let a_part = MatRef {
                data: &a.data[start * a.col_stride..],
                cols: end - start,
                ..a
            };
            let b_part = MatRef {
                data: &b.data[start * b.row_stride..],
                rows: end - start,
                ..b
            };
            let out = MatMut::row_major(&mut part, m, n);
            matmul_with(backend, 1, a_part, b_part, out, false)?;
        }
        Ok(part)
    };
    let partials = threading::map_pieces((0..parts).collect(), partial);
    let mut sum: Option<Vec<T>> = None;
    for part in partials {
        let part = part?;
        match sum.as_mut() {
            None => sum = Some(part),
            Some(total) => total.iter_mut().zip(&part).for_each(|(t, &v)| *t += v),
        }
    }
    let sum = sum.unwrap_or_else(|| vec![T::ZERO; m * n]);
    for i in 0..m {
        for j in 0..n {
            let dst = &mut c.data[i * c.row_stride + j * c.col_stride];
            *dst = if accumulate {
                *dst + sum[i * n + j]
            } else {
                sum[i * n + j]
            };
        }
    }
    Ok(())
}

/// Validate shapes and extents so the kernels may index without bounds checks.
fn check<T>(a: &MatRef<T>, b: &MatRef<T>, c: &MatMut<T>) -> Result<(), String> {
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
    if !distinct_elements(c.rows, c.cols, c.row_stride, c.col_stride) {
        return Err(format!(
            "matmul: C's strides ({}, {}) make elements of its {}x{} view share memory",
            c.row_stride, c.col_stride, c.rows, c.cols
        ));
    }
    Ok(())
}

/// Whether a strided view's elements are all distinct (checked conservatively: one stride
/// must step over a whole line of the other).
fn distinct_elements(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    if rows == 0 || cols == 0 {
        // An empty view has no elements to share; NumPy gives such arrays zero strides.
        return true;
    }
    let rows_ok = rows <= 1 || row_stride >= 1;
    let cols_ok = cols <= 1 || col_stride >= 1;
    if rows <= 1 || cols <= 1 {
        return rows_ok && cols_ok;
    }
    (col_stride >= 1 && row_stride >= col_stride.saturating_mul(cols))
        || (row_stride >= 1 && col_stride >= row_stride.saturating_mul(rows))
}

/// The portable path: the `gemm` crate, threaded through dlcore's pool.
fn portable<T: Real>(
    (m, n, k): (usize, usize, usize),
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
    accumulate: bool,
    threads: usize,
) {
    let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FLOPS;
    // Raw pointers are not Send; carry the addresses into the pool as integers.
    let (c_ptr, a_ptr, b_ptr) = (
        c.data.as_mut_ptr() as usize,
        a.data.as_ptr() as usize,
        b.data.as_ptr() as usize,
    );
    let run = move |par: gemm::Parallelism| {
        // SAFETY: the extents were checked by `check`, so every index gemm forms is in
        // bounds; the output does not alias the inputs because it is borrowed mutably.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// How a test matrix sits in memory.
    #[derive(Clone, Copy, Debug)]
    enum Layout {
        RowMajor,
        ColMajor,
        /// Row-major with 3 unused elements after each row.
        PaddedRows,
        /// Every other element of every other row: neither stride is 1.
        Strided,
    }

    fn strides(layout: Layout, rows: usize, cols: usize) -> (usize, usize) {
        match layout {
            Layout::RowMajor => (cols, 1),
            Layout::ColMajor => (1, rows),
            Layout::PaddedRows => (cols + 3, 1),
            Layout::Strided => (4 * cols + 1, 2),
        }
    }

    /// A matrix's backing storage (gaps included) and strides.
    struct Stored<T> {
        data: Vec<T>,
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    }

    impl<T: Real> Stored<T> {
        fn random(layout: Layout, rows: usize, cols: usize, rng: &mut impl Rng) -> Self {
            let (rs, cs) = strides(layout, rows, cols);
            let len = extent(rows, cols, rs, cs);
            let data = (0..len)
                .map(|_| T::from_f64(rng.random::<f64>() - 0.5))
                .collect();
            Self {
                data,
                rows,
                cols,
                rs,
                cs,
            }
        }

        fn view(&self) -> MatRef<'_, T> {
            MatRef {
                data: &self.data,
                rows: self.rows,
                cols: self.cols,
                row_stride: self.rs,
                col_stride: self.cs,
            }
        }

        fn view_mut(&mut self) -> MatMut<'_, T> {
            MatMut {
                data: &mut self.data,
                rows: self.rows,
                cols: self.cols,
                row_stride: self.rs,
                col_stride: self.cs,
            }
        }

        fn get(&self, i: usize, j: usize) -> f64 {
            self.data[i * self.rs + j * self.cs].to_f64()
        }

        /// Whether storage index `idx` is an element of the view (not a gap).
        fn in_view(&self, idx: usize) -> bool {
            (0..self.rows).any(|i| {
                let rest = idx.wrapping_sub(i * self.rs);
                rest <= (self.cols - 1) * self.cs && rest.is_multiple_of(self.cs.max(1))
            })
        }
    }

    fn naive<T: Real>(a: &Stored<T>, b: &Stored<T>) -> Vec<f64> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                c[i * b.cols + j] = (0..a.cols).map(|p| a.get(i, p) * b.get(p, j)).sum();
            }
        }
        c
    }

    /// Backends and thread counts every case runs under: the packed path with each
    /// instruction set the CPU has (AVX-512, AVX2) and the portable one, each serial and
    /// split into three strips.
    fn configurations() -> Vec<(Backend, usize)> {
        let mut configs = vec![(Backend::Portable, 1), (Backend::Portable, 3)];
        #[cfg(target_arch = "x86_64")]
        for isa in [packed_gemm::Isa::Avx512, packed_gemm::Isa::Avx2] {
            if isa.supported() {
                configs.extend([(Backend::Packed(isa), 1), (Backend::Packed(isa), 3)]);
            }
        }
        configs
    }

    /// Check every backend, thread count, operand layout and accumulate mode on one shape.
    fn check_shape<T: Real>(m: usize, k: usize, n: usize, tolerance: f64, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for (la, lb, lc) in [
            (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor),
            (Layout::ColMajor, Layout::RowMajor, Layout::RowMajor),
            (Layout::RowMajor, Layout::ColMajor, Layout::RowMajor),
            (Layout::ColMajor, Layout::ColMajor, Layout::ColMajor),
            (Layout::Strided, Layout::PaddedRows, Layout::PaddedRows),
            (Layout::PaddedRows, Layout::Strided, Layout::Strided),
            (Layout::RowMajor, Layout::RowMajor, Layout::ColMajor),
        ] {
            let a = Stored::<T>::random(la, m, k, &mut rng);
            let b = Stored::<T>::random(lb, k, n, &mut rng);
            let want = naive(&a, &b);
            for (backend, threads) in configurations() {
                for accumulate in [false, true] {
                    let mut c = Stored::<T>::random(lc, m, n, &mut rng);
                    let before = c.data.clone();
                    matmul_with(
                        backend,
                        threads,
                        a.view(),
                        b.view(),
                        c.view_mut(),
                        accumulate,
                    )
                    .unwrap();
                    let case = format!(
                        "{m}x{k} @ {k}x{n}, {la:?} {lb:?} -> {lc:?}, {backend:?} x{threads}, \
                         accumulate={accumulate}"
                    );
                    for i in 0..m {
                        for j in 0..n {
                            let old = before[i * c.rs + j * c.cs].to_f64();
                            let expect = want[i * n + j] + if accumulate { old } else { 0.0 };
                            let got = c.get(i, j);
                            assert!(
                                (got - expect).abs() <= tolerance,
                                "{case}: C[{i},{j}] = {got}, expected {expect}"
                            );
                        }
                    }
                    for (idx, (&now, &old)) in c.data.iter().zip(&before).enumerate() {
                        if !c.in_view(idx) {
                            assert!(now.to_f64() == old.to_f64(), "{case}: gap {idx} written");
                        }
                    }
                }
            }
        }
    }

    /// Shapes around every blocking boundary: single elements, k = 1, partial register tiles
    /// (AVX-512: MR = 12 f32 / 6 f64 rows, NR = 32 columns; AVX2: MR = 6, NR = 16 f32 / 8 f64
    /// columns), several KC / MC / NC blocks, and
    /// products above the threading threshold (128^3 multiply-adds) split by columns
    /// (n >= m) or by rows. Narrow products (n <= 2 NR) read a row-major A in place, across
    /// several depth and row blocks too, except when its rows are a multiple of 2 KiB apart
    /// (512 f32 / 256 f64 columns), which packs it instead. Outputs of 129 to 4200 columns
    /// take several passes of B panels past each A panel, the last pass ragged. A row-major B
    /// whose rows are 1 KiB apart is read in place by up to 32 rows of A, 4 KiB apart by one
    /// A panel (MR rows), and packed for more (`max_in_place_rows`): (6 or 8, 40, 1024),
    /// (20, 33, 256) and (40, 33, 256) fall on either side in f32 and f64. Up to 3 rows or
    /// columns of output (axpys), or 2 to 6 by depth (dot products), are matrix-vector
    /// products (`gemv.rs`), split across threads from 768Ki elements of the matrix:
    /// (1, 300, 2700), (2700, 300, 1), (3, 40, 300), (5, 700, 130) and (300, 40, 2). A
    /// column-major A against a row-major B of at most 32 columns runs as C^T = B^T A^T
    /// (`parallel.rs`): (200, 90, 20) serially, (600, 300, 24) split.
    const SHAPES: [(usize, usize, usize); 33] = [
        (64, 64, 64),
        (100, 600, 64),
        (30, 512, 40),
        (40, 256, 20),
        (1, 1, 1),
        (1, 4, 8),
        (2, 3, 1),
        (3, 5, 7),
        (12, 1, 32),
        (13, 17, 33),
        (17, 33, 9),
        (64, 1, 64),
        (6, 25, 300),
        (25, 6, 37),
        (11, 520, 17),
        (97, 300, 65),
        (130, 70, 129),
        (400, 20, 50),
        (2, 9, 4200),
        (200, 150, 180),
        (70, 190, 330),
        (530, 90, 70),
        (6, 40, 1024),
        (8, 40, 1024),
        (20, 33, 256),
        (40, 33, 256),
        (1, 300, 2700),
        (2700, 300, 1),
        (3, 40, 300),
        (5, 700, 130),
        (300, 40, 2),
        (200, 90, 20),
        (600, 300, 24),
    ];

    #[test]
    fn f64_matches_naive_on_every_backend_and_layout() {
        for (seed, &(m, k, n)) in SHAPES.iter().enumerate() {
            check_shape::<f64>(m, k, n, 1e-12 * k as f64, seed as u64);
        }
    }

    #[test]
    fn f32_matches_naive_on_every_backend_and_layout() {
        for (seed, &(m, k, n)) in SHAPES.iter().enumerate() {
            check_shape::<f32>(m, k, n, 2e-6 * k as f64, 100 + seed as u64);
        }
    }

    #[test]
    fn small_outputs_over_long_depths_split_the_depth() {
        // A conv weight gradient's shape (6x25 over a depth of 9000) and a 64x64 output at the
        // depth threshold, with the three-thread configurations running `depth_split`.
        assert!(splits_depth(6, 25, 9000) && splits_depth(64, 64, 2100));
        assert!(!splits_depth(65, 64, 4096) && !splits_depth(6, 25, 2047));
        check_shape::<f64>(6, 9000, 25, 1e-12 * 9000.0, 11);
        check_shape::<f32>(64, 2100, 64, 2e-6 * 2100.0, 12);
        check_shape::<f32>(3, 5000, 1, 2e-6 * 5000.0, 13);
    }

    #[test]
    fn weight_gradient_shapes_run_with_operands_swapped() {
        // At most 32 rows, a transposed B and a depth of at least 4n: with a row-major A and
        // C these run as C^T = B^T A^T into a column-major C^T (see `parallel.rs`); every
        // layout, thread count and accumulate setting must agree with the naive product.
        check_shape::<f32>(16, 4096, 150, 2e-6 * 4096.0, 31);
        check_shape::<f64>(20, 800, 170, 1e-12 * 800.0, 32);
        check_shape::<f32>(7, 1000, 33, 2e-6 * 1000.0, 33);
    }

    #[test]
    fn shared_b_blocks_across_every_block_boundary() {
        // Threads sharing packed B blocks (three threads here) over several depth blocks
        // (f32 AVX2 KC 320, f64 256) and ragged row blocks; the column-major outputs run
        // transposed, with 1030 rows shared out. The last shape crosses a column block (NC
        // and the shared blocks are 2048 wide; AVX-512's serial NC is 1024).
        check_shape::<f32>(140, 650, 1030, 2e-6 * 650.0, 21);
        check_shape::<f64>(301, 530, 1100, 1e-12 * 530.0, 22);
        check_shape::<f32>(130, 40, 2100, 2e-6 * 40.0, 23);
    }

    #[test]
    fn column_major_output_wider_than_a_block() {
        // A column-major C is computed transposed, so its 2100 rows cross the f64 NC block.
        check_shape::<f64>(2100, 5, 3, 1e-12 * 5.0, 7);
    }

    #[test]
    fn broadcast_operands_with_zero_strides() {
        // NumPy's broadcast views have stride 0: every row of A is the same vector.
        let row = [1.0f32, 2.0, 3.0];
        let a = MatRef {
            data: &row,
            rows: 20,
            cols: 3,
            row_stride: 0,
            col_stride: 1,
        };
        let bv: Vec<f32> = (0..3 * 40).map(|i| i as f32).collect();
        let b = MatRef::row_major(&bv, 3, 40);
        for (backend, threads) in configurations() {
            let mut c = vec![0.0f32; 20 * 40];
            matmul_with(
                backend,
                threads,
                a,
                b,
                MatMut::row_major(&mut c, 20, 40),
                false,
            )
            .unwrap();
            for i in 0..20 {
                for j in 0..40 {
                    let want: f32 = (0..3).map(|p| row[p] * bv[p * 40 + j]).sum();
                    assert_eq!(c[i * 40 + j], want, "{backend:?}");
                }
            }
        }
    }

    #[test]
    fn f32_large_parallel() {
        let (m, k, n) = (300, 600, 700);
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
    fn calls_from_inside_the_pool_run_serially_and_correctly() {
        let (m, k, n) = (150, 130, 170);
        let av: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
        let bv: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 2.0).collect();
        let mut want = vec![0.0f32; m * n];
        let a = MatRef::row_major(&av, m, k);
        let b = MatRef::row_major(&bv, k, n);
        matmul(a, b, MatMut::row_major(&mut want, m, n), false).unwrap();
        let mut outputs = vec![vec![0.0f32; m * n]; 4];
        threading::install(|| {
            use rayon::prelude::*;
            outputs.par_iter_mut().for_each(|out| {
                matmul(a, b, MatMut::row_major(out, m, n), false).unwrap();
            });
        });
        for out in &outputs {
            assert_eq!(out, &want);
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
        matmul(
            MatRef::row_major(&[1.0], 1, 1),
            MatRef::row_major(&[], 1, 0),
            MatMut::row_major(&mut c[..0], 1, 0),
            false,
        )
        .unwrap();
        // An empty output with several rows: its row stride is 0, yet no elements alias.
        matmul(
            MatRef::row_major(&[1.0; 6], 2, 3),
            MatRef::row_major(&[], 3, 0),
            MatMut::row_major(&mut c[..0], 2, 0),
            false,
        )
        .unwrap();
        matmul(
            MatRef::row_major(&[], 0, 3),
            MatRef::row_major(&[1.0; 6], 3, 2),
            MatMut::row_major(&mut c[..0], 0, 2),
            true,
        )
        .unwrap();
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

    #[test]
    fn empty_output_with_zero_strides_is_fine() {
        let mut c: [f32; 0] = [];
        let out = MatMut {
            data: &mut c,
            rows: 2,
            cols: 0,
            row_stride: 0,
            col_stride: 1,
        };
        let a = [1.0f32; 6];
        assert!(matmul(
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&[], 3, 0),
            out,
            false
        )
        .is_ok());
    }

    #[test]
    fn short_slices_and_overlapping_output_are_errors() {
        let a = [0.0f32; 6];
        let mut c = [0.0f32; 9];
        let short = matmul(
            MatRef::row_major(&a[..5], 2, 3),
            MatRef::row_major(&a, 3, 2),
            MatMut::row_major(&mut c[..4], 2, 2),
            false,
        );
        assert!(short.unwrap_err().contains("needs 6 elements"));
        let overlapping = MatMut {
            data: &mut c,
            rows: 2,
            cols: 2,
            row_stride: 1,
            col_stride: 1,
        };
        let err = matmul(
            MatRef::row_major(&a[..4], 2, 2),
            MatRef::row_major(&a[..4], 2, 2),
            overlapping,
            false,
        );
        assert!(err.unwrap_err().contains("share memory"));
    }
}
