//! How the packed GEMM shares a product between threads.
//!
//! Products with many rows share each packed block of B, as BLIS and OpenBLAS do. The blocks
//! of B are taken in turn (phases); in each, the threads first pack the block's panels
//! together into one buffer, then claim blocks of A's rows one at a time, pack each into
//! their own buffer and multiply it by the shared block. Every operand is packed once,
//! whatever the thread count, and a thread that runs slower or starts late simply claims
//! fewer blocks. Threads do not wait for each other at the end of a phase: one that finishes
//! early packs the next block of B (there are two buffers) and goes on with its row blocks,
//! waiting only where it needs a result another thread is computing (see [`Phases::run`]).
//!
//! Products with few rows (the convolution GEMMs: 6 to 64 filters against thousands of
//! pixels) have too few row blocks to share out. They split C into column strips instead,
//! each computed by the serial algorithm with that thread's own buffers, at the price of
//! packing the small A once per strip.
//!
//! Either way the calling thread works too, so nothing waits for a pool thread to wake up,
//! and afterwards one pool thread stays awake a moment for the next call (see
//! [`threading::linger`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::ThreadPool;

use super::buffers::{with_scratch, with_shared_b};
use super::{balanced_step, packed_b_len, serial, APlan, Family, PackedB, View, ViewMut};
use crate::threading::{self, claim};

/// Below this many multiply-adds (a 128^3 product, ~30 us on one core) a single thread is
/// faster than waking another.
const PARALLEL_MIN_FMAS: usize = 128 * 128 * 128;

/// The fewest rows a thread claims at a time when threads share B blocks. Products with
/// fewer than two such blocks split into column strips instead.
const MIN_ROW_BLOCK: usize = 64;

/// Row blocks per thread to aim for when the rows allow blocks of at least `MIN_ROW_BLOCK`:
/// more than one, so a slow thread can hand work to the others.
const ROW_BLOCKS_PER_THREAD: usize = 2;

/// Most columns of a shared B block, whatever the family's `NC`: each thread streams them
/// from the shared L3 anyway, and wider blocks mean fewer passes packing A (a 2048^3 product
/// packs A once instead of twice). Two of them (double buffering) take 5 MiB in f32 with
/// AVX2's blocking, 8 MiB with AVX-512's.
const SHARED_NC: usize = 2048;

/// `C (+)= A @ B` for `m x k` A and `k x n` B on up to `threads` threads.
///
/// # Safety
/// As for [`super::matmul`].
pub(super) unsafe fn run<F: Family>(
    (m, n, k): (usize, usize, usize),
    a: View<F::E>,
    b: View<F::E>,
    c: ViewMut<F::E>,
    accumulate: bool,
    threads: usize,
) {
    if c.cs != 1 && c.rs == 1 {
        // Column-major C: compute C^T = B^T A^T, whose rows are contiguous in memory.
        return run::<F>((n, m, k), b.t(), a.t(), c.t(), accumulate, threads);
    }
    if transposing_b_dominates((m, n, k), a, b) || transposing_a_dominates((m, n, k), a, b) {
        // Compute C^T = B^T A^T instead: the large transposed operand becomes a row-major
        // one, copied rather than transposed, and the small one is transposed. C^T is
        // column-major, written through the kernel's local tile, which costs little next to
        // the long depth.
        let ct = c.t();
        return oriented::<F>((n, m, k), b.t(), a.t(), ct, accumulate, threads);
    }
    oriented::<F>((m, n, k), a, b, c, accumulate, threads)
}

/// Whether packing B would cost more than swapping the operands: B is a transposed view (its
/// packing transposes every element), A is row-major with few rows to share that cost, B has
/// more columns than A has rows, and the depth is long next to the output: the weight
/// gradient `dout @ col^T` of a convolution, where 16 x 4096 @ (150 x 4096)^T spent 40% of
/// its time transposing B. Measured on a Zen 3 (1 and 2 threads): 16 x 150 x 4096 ran
/// 1.2-1.4x and 32 x 288 x 12544 1.6x faster swapped; with 64 or 100 rows the swap gained
/// nothing or lost up to 15%, hence `MAX_SWAP_ROWS`.
fn transposing_b_dominates<E>((m, n, k): (usize, usize, usize), a: View<E>, b: View<E>) -> bool {
    const MAX_SWAP_ROWS: usize = 32;
    a.cs == 1 && b.rs == 1 && b.cs != 1 && m <= MAX_SWAP_ROWS && m < n && k >= 4 * n
}

/// The mirror of [`transposing_b_dominates`]: A is a transposed view (packing it transposes
/// every element) and B is row-major with few columns to share that cost, while A has many
/// rows and the depth is long: a linear layer's weight gradient `g^T @ x` for inputs of few
/// features. Measured on a Zen 3 (one thread, GFLOP/s as is -> swapped): (784x256)^T @
/// 256x16 31 -> 63, (1024x64)^T @ 64x10 17 -> 32, (128x256)^T @ 256x16 28 -> 51; with 64
/// columns, 40 rows or a depth as short as the columns the swap gained nothing or lost up to
/// 15%.
fn transposing_a_dominates<E>((m, n, k): (usize, usize, usize), a: View<E>, b: View<E>) -> bool {
    const MAX_SWAP_COLUMNS: usize = 32;
    a.rs == 1 && a.cs != 1 && b.cs == 1 && n <= MAX_SWAP_COLUMNS && m >= 4 * n && k >= 4 * n
}

/// [`run`] once the orientation is chosen; C may be column-major.
///
/// # Safety
/// As for [`super::matmul`].
unsafe fn oriented<F: Family>(
    (m, n, k): (usize, usize, usize),
    a: View<F::E>,
    b: View<F::E>,
    c: ViewMut<F::E>,
    accumulate: bool,
    threads: usize,
) {
    let shape = (m, n, k);
    let scheme = Scheme::for_shape(shape, threads, F::NR);
    if scheme == Scheme::Serial {
        return with_scratch(|s| serial::<F>(shape, a, b, c, accumulate, s));
    }
    let pool = threading::pool();
    if scheme == Scheme::SharedB {
        shared_b::<F>(&pool, shape, a, b, c, accumulate, threads);
    } else {
        strips::<F>(&pool, shape, a, b, c, accumulate, threads);
    }
    threading::linger(&pool);
}

/// How a product with a row-major C is shared between threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// On the calling thread alone.
    Serial,
    /// Threads pack B blocks together and claim blocks of A's rows.
    SharedB,
    /// Threads claim strips of C, each computed serially.
    Strips,
}

impl Scheme {
    /// The scheme for an `m x n` C over depth `k` on `threads` threads, with B panels of `nr`
    /// columns.
    fn for_shape((m, n, k): (usize, usize, usize), threads: usize, nr: usize) -> Self {
        if threads < 2 || m.saturating_mul(n).saturating_mul(k) < PARALLEL_MIN_FMAS {
            Scheme::Serial
        } else if m >= 2 * MIN_ROW_BLOCK && n > 2 * nr {
            Scheme::SharedB
        } else {
            Scheme::Strips
        }
    }
}

/// The shared B buffers, which the threads' tasks write (each its own panels) and read.
#[derive(Clone, Copy)]
struct SharedPtr<E>(*mut E);

// SAFETY: `Phases::run` orders every write to a buffer before the reads of it, and every
// read before the next write.
unsafe impl<E> Send for SharedPtr<E> {}
unsafe impl<E> Sync for SharedPtr<E> {}

impl<E> SharedPtr<E> {
    /// The pointer (a method, so closures capture the whole `SharedPtr`, not its field).
    fn get(self) -> *mut E {
        self.0
    }
}

/// The shared-B scheme (see the module comment).
///
/// # Safety
/// As for [`super::matmul`]; `n > 2 NR` (so A is never read in place).
#[allow(clippy::too_many_arguments)]
unsafe fn shared_b<F: Family>(
    pool: &ThreadPool,
    (m, n, k): (usize, usize, usize),
    a: View<F::E>,
    b: View<F::E>,
    c: ViewMut<F::E>,
    accumulate: bool,
    threads: usize,
) {
    let nc_step = balanced_step(n, SHARED_NC.max(F::NC), F::NR);
    let kc_step = balanced_step(k, F::KC, 1);
    let mc_step = shared_row_block(m, threads, F::MC, F::MR);
    let plan = APlan::new::<F>(a, n);
    let block_len = packed_b_len::<F>(nc_step, kc_step);
    let a_len = plan.packed_len::<F>(mc_step, kc_step);
    with_shared_b(|buffer| {
        // Two B blocks: threads done with one phase pack the next block while the others
        // finish multiplying by the current one.
        let packed = SharedPtr(buffer.get::<F::E>(2 * block_len));
        let phases = Phases {
            n,
            k,
            nc_step,
            kc_step,
            depth_blocks: k.div_ceil(kc_step),
            pack_tasks: n.min(nc_step).div_ceil(F::NR).div_ceil(2 * threads).max(1),
            row_blocks: m.div_ceil(mc_step),
            rows_through: (0..m.div_ceil(mc_step))
                .map(|_| AtomicUsize::new(0))
                .collect(),
            progress: (0..n.div_ceil(nc_step) * k.div_ceil(kc_step))
                .map(|_| Progress::default())
                .collect(),
        };
        let work = || {
            // SAFETY: as for this function; see `Phases::run`.
            unsafe {
                phases.run(|phase, task| {
                    let (jc, nc, pc, kc) = phases.block(phase);
                    let b_block = packed.get().add((phase % 2) * block_len);
                    match task {
                        Task::Pack(t) => {
                            // A run of whole panels; each panel is `kc * NR` elements, a
                            // multiple of 64 bytes, so the run's start stays aligned.
                            let per_task = nc.div_ceil(F::NR).div_ceil(phases.pack_tasks);
                            let first = (t * per_task * F::NR).min(nc);
                            let cols = (first + per_task * F::NR).min(nc) - first;
                            if cols > 0 {
                                let dst = b_block.add(first * kc);
                                F::pack_b(b.offset(pc, jc + first), cols, kc, dst);
                            }
                        }
                        Task::Rows(t) => {
                            let ic = t * mc_step;
                            let mc = mc_step.min(m - ic);
                            let b_block = PackedB::Panels(b_block.cast_const());
                            let load_c = accumulate || pc > 0;
                            with_scratch(|s| {
                                let (rows, depth, c_block) = ((ic, mc), (pc, kc), c.offset(ic, jc));
                                let packed_a = s.a.get::<F::E>(a_len);
                                plan.multiply::<F>(
                                    rows, depth, b_block, nc, c_block, load_c, packed_a,
                                );
                            });
                        }
                    }
                });
            }
        };
        threading::run_workers(pool, threads, |_| work());
    });
}

/// One task of a phase of the shared-B scheme.
#[derive(Clone, Copy)]
enum Task {
    /// Pack the `t`-th run of panels of the phase's B block.
    Pack(usize),
    /// Multiply the `t`-th block of A's rows by the phase's B block.
    Rows(usize),
}

/// How far one phase (one B block) has got: tasks claimed and finished, of each kind.
#[derive(Default)]
struct Progress {
    packs_claimed: AtomicUsize,
    packs_done: AtomicUsize,
    rows_claimed: AtomicUsize,
    rows_done: AtomicUsize,
}

/// The phases of the shared-B scheme, one per `KC x NC` block of B (column blocks outer,
/// depth blocks inner), and their progress.
struct Phases {
    n: usize,
    k: usize,
    nc_step: usize,
    kc_step: usize,
    /// Depth blocks per column block.
    depth_blocks: usize,
    pack_tasks: usize,
    row_blocks: usize,
    progress: Vec<Progress>,
    /// Per row block, one more than the latest phase that finished it. A block's depth
    /// blocks run in order, so within a column block this counts the phases done; a new
    /// column block writes other columns of C and does not wait.
    rows_through: Vec<AtomicUsize>,
}

impl Phases {
    /// `(jc, nc, pc, kc)`: the first column and width, first depth and depth of the B block
    /// of `phase`.
    fn block(&self, phase: usize) -> (usize, usize, usize, usize) {
        let (jc, pc) = (
            phase / self.depth_blocks * self.nc_step,
            phase % self.depth_blocks * self.kc_step,
        );
        (
            jc,
            self.nc_step.min(self.n - jc),
            pc,
            self.kc_step.min(self.k - pc),
        )
    }

    /// Take part in every phase: claim and run pack tasks, wait until the block is packed,
    /// then claim and run row blocks. Any number of threads may call this at once, starting
    /// at any time; each task runs exactly once. The waits, all for tasks that another
    /// thread has claimed and is running, order what threads share:
    /// - a phase's B block is read only after all its packs are done;
    /// - a B buffer is repacked (two phases later) only after every row block has read it;
    /// - a block of C is read by its next depth block only after the previous one wrote it.
    ///
    /// So a thread that finishes a phase early packs the next B block and goes on with the
    /// next phase's row blocks while the others finish theirs: no phase waits for all of
    /// the one before.
    ///
    /// # Safety
    /// `task` must be safe to run under those orderings.
    unsafe fn run(&self, task: impl Fn(usize, Task)) {
        for (phase, progress) in self.progress.iter().enumerate() {
            while let Some(t) = claim(&progress.packs_claimed, self.pack_tasks) {
                if phase >= 2 {
                    // This phase packs into the buffer that phase - 2's row blocks read.
                    threading::spin_until(&self.progress[phase - 2].rows_done, self.row_blocks);
                }
                task(phase, Task::Pack(t));
                progress.packs_done.fetch_add(1, Ordering::Release);
            }
            threading::spin_until(&progress.packs_done, self.pack_tasks);
            while let Some(t) = claim(&progress.rows_claimed, self.row_blocks) {
                if phase % self.depth_blocks > 0 {
                    // The previous depth block must have written this block of C.
                    threading::spin_until(&self.rows_through[t], phase);
                }
                task(phase, Task::Rows(t));
                self.rows_through[t].fetch_max(phase + 1, Ordering::AcqRel);
                progress.rows_done.fetch_add(1, Ordering::Release);
            }
        }
    }
}

/// Rows per block of A when `threads` threads share B blocks: at most `mc` (the block should
/// stay in L2), a multiple of `align`, and enough blocks that every thread gets the same
/// number, `ROW_BLOCKS_PER_THREAD` or more where blocks of `MIN_ROW_BLOCK` rows allow.
fn shared_row_block(m: usize, threads: usize, mc: usize, align: usize) -> usize {
    let per_thread = m
        .div_ceil(threads * mc)
        .max((m / (threads * MIN_ROW_BLOCK)).min(ROW_BLOCKS_PER_THREAD))
        .max(1);
    m.div_ceil(threads * per_thread).next_multiple_of(align)
}

/// The strip scheme (see the module comment).
///
/// # Safety
/// As for [`super::matmul`].
#[allow(clippy::too_many_arguments)]
unsafe fn strips<F: Family>(
    pool: &ThreadPool,
    (m, n, k): (usize, usize, usize),
    a: View<F::E>,
    b: View<F::E>,
    c: ViewMut<F::E>,
    accumulate: bool,
    threads: usize,
) {
    // Split the longer side of C: the strips then share the smaller operand, whose repacking
    // per strip costs least.
    let split_columns = n >= m;
    let (len, align) = if split_columns {
        (n, F::NR)
    } else {
        (m, F::MR)
    };
    let strip = strip_size(len, align, threads);
    threading::claim_tasks(pool, threads, len.div_ceil(strip), |s| {
        let start = s * strip;
        let size = strip.min(len - start);
        // SAFETY: strips are disjoint parts of C, inside the extents the caller checked.
        unsafe {
            if split_columns {
                let (b, c) = (b.offset(0, start), c.offset(0, start));
                with_scratch(|sc| serial::<F>((m, size, k), a, b, c, accumulate, sc));
            } else {
                let (a, c) = (a.offset(start, 0), c.offset(start, 0));
                with_scratch(|sc| serial::<F>((size, n, k), a, b, c, accumulate, sc));
            }
        }
    });
}

/// Width of the strips `len` rows or columns are split into for `threads` threads: up to
/// four per thread so a late thread delays little, but no narrower than `MIN_STRIP` (each
/// strip repacks the shared operand) unless that would leave threads without a strip;
/// multiples of `align`.
fn strip_size(len: usize, align: usize, threads: usize) -> usize {
    // Measured on a Zen 3 at 2 threads: 256-wide strips ran 1024^3 and 2048^3 at 157-158
    // GFLOP/s, 512-wide ones at 167-171 (NumPy's OpenBLAS: 162-178).
    const MIN_STRIP: usize = 512;
    let per_thread = (len / (threads * MIN_STRIP)).clamp(1, 4);
    len.div_ceil(threads * per_thread).next_multiple_of(align)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view whose strides say row-major with `cols` columns (the data is never read).
    fn row_major(cols: usize) -> View<f32> {
        View {
            ptr: std::ptr::null(),
            rs: cols,
            cs: 1,
        }
    }

    /// A view whose strides say the transpose of a row-major matrix of `rows` rows' width.
    fn transposed(rows: usize) -> View<f32> {
        View {
            ptr: std::ptr::null(),
            rs: 1,
            cs: rows,
        }
    }

    #[test]
    fn operands_swap_only_for_few_rows_a_transposed_b_and_a_long_depth() {
        let (a, b) = (row_major(4096), transposed(4096));
        assert!(transposing_b_dominates((16, 150, 4096), a, b));
        assert!(transposing_b_dominates((32, 288, 12544), a, b));
        assert!(!transposing_b_dominates((64, 576, 3136), a, b)); // enough rows to share it
        assert!(!transposing_b_dominates((16, 150, 500), a, b)); // depth too short
        assert!(!transposing_b_dominates((16, 8, 4096), a, b)); // B narrower than A
        assert!(!transposing_b_dominates((16, 150, 4096), a, row_major(150))); // B row-major
        assert!(!transposing_b_dominates((16, 150, 4096), transposed(16), b)); // A transposed
    }

    #[test]
    fn operands_swap_for_a_transposed_a_against_few_columns_of_b() {
        let (a, b) = (transposed(784), row_major(16));
        assert!(transposing_a_dominates((784, 16, 256), a, b));
        assert!(transposing_a_dominates(
            (1024, 10, 64),
            transposed(1024),
            row_major(10)
        ));
        assert!(!transposing_a_dominates((784, 64, 256), a, row_major(64))); // B too wide
        assert!(!transposing_a_dominates((40, 16, 1024), transposed(40), b)); // few rows
        assert!(!transposing_a_dominates((784, 16, 32), a, b)); // depth too short
        assert!(!transposing_a_dominates((784, 16, 256), row_major(256), b)); // A row-major
        assert!(!transposing_a_dominates((784, 16, 256), a, transposed(256))); // B transposed
    }

    #[test]
    fn strips_are_aligned_and_give_every_thread_work() {
        for len in [96, 128, 256, 300, 512, 1000, 2048, 65536] {
            for threads in [2, 3, 8] {
                let strip = strip_size(len, 32, threads);
                let strips = len.div_ceil(strip);
                assert!(strip.is_multiple_of(32), "{len} {threads}");
                assert!(strips <= 4 * threads, "{len} {threads}: {strips}");
                assert!(
                    strips >= 2,
                    "{len} {threads}: one strip leaves threads idle"
                );
                if len >= threads * 512 {
                    assert!(
                        strips >= threads && strip >= 512,
                        "{len} {threads}: {strip}"
                    );
                }
            }
        }
        assert_eq!(strip_size(2048, 32, 2), 512);
        assert_eq!(strip_size(4096, 32, 2), 512);
        assert_eq!(strip_size(256, 32, 2), 128);
    }

    #[test]
    fn schemes_by_shape() {
        // `matmul.rs`'s shape tests (3 threads) cover each scheme with these.
        let f32_nr = 16;
        assert_eq!(
            Scheme::for_shape((140, 1030, 330), 3, f32_nr),
            Scheme::SharedB
        );
        assert_eq!(Scheme::for_shape((530, 70, 90), 3, f32_nr), Scheme::SharedB);
        assert_eq!(Scheme::for_shape((70, 330, 190), 3, f32_nr), Scheme::Strips);
        assert_eq!(Scheme::for_shape((2, 4200, 9), 1, f32_nr), Scheme::Serial);
        assert_eq!(Scheme::for_shape((64, 64, 64), 3, f32_nr), Scheme::Serial);
        // The convolution GEMMs: few rows, very many columns.
        assert_eq!(
            Scheme::for_shape((64, 65536, 288), 2, f32_nr),
            Scheme::Strips
        );
        assert_eq!(
            Scheme::for_shape((2048, 2048, 2048), 2, f32_nr),
            Scheme::SharedB
        );
    }

    #[test]
    fn shared_row_blocks_fit_and_share_out_evenly() {
        for m in 2 * MIN_ROW_BLOCK..3000 {
            for threads in [2, 3, 4] {
                if m < threads * MIN_ROW_BLOCK {
                    continue;
                }
                let step = shared_row_block(m, threads, 144, 6);
                let blocks = m.div_ceil(step);
                assert!(
                    step <= 144 && step.is_multiple_of(6),
                    "{m} {threads}: {step}"
                );
                assert!(blocks >= threads, "{m} {threads}: {blocks} blocks");
            }
        }
        assert_eq!(shared_row_block(2048, 2, 144, 6), 132); // 16 blocks, 8 per thread
        assert_eq!(shared_row_block(256, 2, 144, 6), 66); // 4 blocks
        assert_eq!(shared_row_block(128, 2, 144, 6), 66); // 2 blocks
    }
}
