//! A BLIS-style packed GEMM with AVX-512 or AVX2 + FMA microkernels: dlcore's matmul on x86-64
//! CPUs that have either. Other CPUs use the portable `gemm` crate (see `matmul.rs`). The
//! microkernels and packing routines come from one macro (`family.rs`) instantiated per
//! instruction set and element type (`avx512.rs`, `avx2.rs`); the driver here is generic.
//!
//! The loops, outermost first (Goto/BLIS): split C's columns into blocks of `NC`; split the
//! inner dimension into blocks of `KC` and pack that `KC x NC` block of B into panels of `NR`
//! columns; split C's rows into blocks of `MC` and pack that `MC x KC` block of A (it stays in
//! L2) into panels of at most `MR` rows; then for each B panel run the microkernel against
//! every A panel. Row panels are balanced (64 rows become 11+11+11+11+10+10, not 12*5+4) so no
//! tile runs with too few accumulators to hide FMA latency; the ragged right edge is masked
//! inside the kernel. Every pack is a streaming copy except B from a transposed view, which
//! is transposed 16 x 16 in registers; a row-major B that would be read only once anyway is
//! not packed at all when its panels stay within few pages, nor is a row-major A in a product
//! so narrow (at most two B panels) that each packed A block would be used only once or twice.
//!
//! Block sizes are each family's (see the instantiations).
//!
//! Threads split C into independent column (or row) strips, each computed by the serial
//! algorithm with that thread's own packing buffers: no barriers, at the price of packing the
//! shared operand once per strip, which is small against the strip's arithmetic. The strips
//! are claimed dynamically, the calling thread included, so a thread that starts late on a
//! busy machine costs little.

mod avx2;
mod avx512;
mod buffers;
mod family;

use std::any::TypeId;
use std::sync::atomic::{AtomicUsize, Ordering};

use self::buffers::{with_scratch, Scratch};
use self::family::{a_layout, KernelFn};
use super::real::Real;
use crate::threading;

/// Below this many multiply-adds (a 128^3 product, ~30 us on one core) a single thread is
/// faster than waking another.
const PARALLEL_MIN_FMAS: usize = 128 * 128 * 128;

/// A strided read-only operand: element `(i, j)` is at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub(crate) struct View<T> {
    pub ptr: *const T,
    pub rs: usize,
    pub cs: usize,
}

/// A strided output, laid out like [`View`].
#[derive(Clone, Copy)]
pub(crate) struct ViewMut<T> {
    pub ptr: *mut T,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: views are plain addresses; the driver hands each thread a disjoint part of the
// output and only reads the inputs, so sharing them between threads cannot race.
unsafe impl<T> Send for View<T> {}
unsafe impl<T> Sync for View<T> {}
unsafe impl<T> Send for ViewMut<T> {}
unsafe impl<T> Sync for ViewMut<T> {}

impl<T> View<T> {
    /// The view whose `(0, 0)` is this view's `(i, j)`.
    ///
    /// # Safety
    /// `(i, j)` must lie inside the viewed allocation.
    unsafe fn offset(self, i: usize, j: usize) -> Self {
        Self {
            ptr: self.ptr.add(i * self.rs + j * self.cs),
            ..self
        }
    }

    fn t(self) -> Self {
        Self {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn cast<U>(self) -> View<U> {
        View {
            ptr: self.ptr.cast(),
            rs: self.rs,
            cs: self.cs,
        }
    }
}

impl<T> ViewMut<T> {
    /// See [`View::offset`].
    unsafe fn offset(self, i: usize, j: usize) -> Self {
        Self {
            ptr: self.ptr.add(i * self.rs + j * self.cs),
            ..self
        }
    }

    fn t(self) -> Self {
        Self {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn cast<U>(self) -> ViewMut<U> {
        ViewMut {
            ptr: self.ptr.cast(),
            rs: self.rs,
            cs: self.cs,
        }
    }
}

/// What the driver needs of a SIMD family: its element type, block sizes, kernels and packing
/// routines. Implemented by the `Family` type of each module `simd_family!` generates.
trait Family {
    type E: Real;
    /// Elements per vector.
    const LANES: usize;
    /// Columns of a B panel (a few vectors).
    const NR: usize;
    /// Most rows of an A panel.
    const MR: usize;
    /// Most depth of a packed block.
    const KC: usize;
    /// Row stride of A's row layout (a little more than `KC`).
    const A_ROW_STRIDE: usize;
    /// Most rows of a packed A block (`MC x KC` should sit in L2).
    const MC: usize;
    /// Most columns of a packed B block.
    const NC: usize;
    fn kernel_for(rows: usize, cols: usize, layout: u8) -> KernelFn<Self::E>;
    /// # Safety
    /// See `family.rs`, `pack_a_rows`.
    unsafe fn pack_a_rows(src: View<Self::E>, h: usize, kc: usize, dst: *mut Self::E);
    /// # Safety
    /// See `family.rs`, `pack_a_depth`.
    unsafe fn pack_a_depth(src: View<Self::E>, h: usize, kc: usize, dst: *mut Self::E);
    /// # Safety
    /// See `family.rs`, `pack_b`.
    unsafe fn pack_b(src: View<Self::E>, nc: usize, kc: usize, dst: *mut Self::E);
}

macro_rules! impl_family {
    ($($family:ident)::+, $t:ty) => {
        impl Family for $($family)::+::Family {
            type E = $t;
            const LANES: usize = $($family)::+::LANES;
            const NR: usize = $($family)::+::NR;
            const MR: usize = $($family)::+::MR;
            const KC: usize = $($family)::+::KC;
            const A_ROW_STRIDE: usize = $($family)::+::A_ROW_STRIDE;
            const MC: usize = $($family)::+::MC;
            const NC: usize = $($family)::+::NC;
            fn kernel_for(rows: usize, cols: usize, layout: u8) -> KernelFn<$t> {
                $($family)::+::kernel_for(rows, cols, layout)
            }
            unsafe fn pack_a_rows(src: View<$t>, h: usize, kc: usize, dst: *mut $t) {
                $($family)::+::pack_a_rows(src.ptr, src.rs, src.cs, h, kc, dst)
            }
            unsafe fn pack_a_depth(src: View<$t>, h: usize, kc: usize, dst: *mut $t) {
                $($family)::+::pack_a_depth(src.ptr, src.rs, src.cs, h, kc, dst)
            }
            unsafe fn pack_b(src: View<$t>, nc: usize, kc: usize, dst: *mut $t) {
                $($family)::+::pack_b(src.ptr, src.rs, src.cs, nc, kc, dst)
            }
        }
    };
}

impl_family!(avx512::f32x16, f32);
impl_family!(avx512::f64x8, f64);
impl_family!(avx2::f32x8, f32);
impl_family!(avx2::f64x4, f64);

/// The instruction sets the packed GEMM has microkernels for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Avx512,
    Avx2,
}

impl Isa {
    /// Whether this CPU can run this instruction set's kernels.
    pub(crate) fn supported(self) -> bool {
        match self {
            Isa::Avx512 => std::is_x86_feature_detected!("avx512f"),
            Isa::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            }
        }
    }

    /// The widest instruction set this CPU supports, if any.
    pub(crate) fn best() -> Option<Isa> {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|isa| isa.supported())
    }
}

/// `C (+)= A @ B` for `m x k` A and `k x n` B with `isa`'s kernels, using up to `threads`
/// threads. Returns false (doing nothing) for element types other than f32 and f64.
///
/// # Safety
/// `isa` must be supported ([`Isa::supported`]); the views must cover their `m x k`, `k x n`
/// and `m x n` extents, with C's elements distinct and not overlapping A or B; `k >= 1`.
pub(crate) unsafe fn matmul<T: Real>(
    isa: Isa,
    (m, n, k): (usize, usize, usize),
    a: View<T>,
    b: View<T>,
    c: ViewMut<T>,
    accumulate: bool,
    threads: usize,
) -> bool {
    let shape = (m, n, k);
    let f32 = TypeId::of::<T>() == TypeId::of::<f32>();
    let f64 = TypeId::of::<T>() == TypeId::of::<f64>();
    let (a32, b32, c32) = (a.cast(), b.cast(), c.cast());
    let (a64, b64, c64) = (a.cast(), b.cast(), c.cast());
    match (isa, f32, f64) {
        (Isa::Avx512, true, _) => {
            run::<avx512::f32x16::Family>(shape, a32, b32, c32, accumulate, threads)
        }
        (Isa::Avx512, _, true) => {
            run::<avx512::f64x8::Family>(shape, a64, b64, c64, accumulate, threads)
        }
        (Isa::Avx2, true, _) => {
            run::<avx2::f32x8::Family>(shape, a32, b32, c32, accumulate, threads)
        }
        (Isa::Avx2, _, true) => {
            run::<avx2::f64x4::Family>(shape, a64, b64, c64, accumulate, threads)
        }
        _ => return false,
    }
    true
}

/// Split the work into strips for the threads and run the serial algorithm on each.
///
/// # Safety
/// As for [`matmul`].
unsafe fn run<F: Family>(
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
    if threads < 2 || m.saturating_mul(n).saturating_mul(k) < PARALLEL_MIN_FMAS {
        return with_scratch(|s| serial::<F>((m, n, k), a, b, c, accumulate, s));
    }
    // Split the longer side of C: the strips then share the smaller operand, whose repacking
    // per strip costs least.
    let split_columns = n >= m;
    let (len, align) = if split_columns {
        (n, F::NR)
    } else {
        (m, F::MR)
    };
    let strip = strip_size(len, align, threads);
    let strips = len.div_ceil(strip);
    let run_strip = move |s: usize| {
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
    };
    // Threads claim strips from a counter until none are left. The calling thread works too,
    // so nothing waits for a pool thread to wake up: if one starts late (the cores are busy
    // with other work), the others have simply taken more strips. Nobody spins: at the end
    // the caller blocks until the strips already claimed are done.
    let next = AtomicUsize::new(0);
    let work = || loop {
        let s = next.fetch_add(1, Ordering::Relaxed);
        if s >= strips {
            break;
        }
        run_strip(s);
    };
    threading::pool().in_place_scope(|scope| {
        for _ in 1..threads.min(strips) {
            scope.spawn(|_| work());
        }
        work();
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

/// Block sizes that split `len` into `ceil(len / max)` nearly equal blocks, each a multiple
/// of `align` (except the last), so no block is much smaller than the rest.
fn balanced_step(len: usize, max: usize, align: usize) -> usize {
    let blocks = len.div_ceil(max);
    len.div_ceil(blocks)
        .next_multiple_of(align)
        .min(max.max(align))
}

/// The serial blocked algorithm (see the module comment) on one thread's buffers.
///
/// # Safety
/// As for [`matmul`]; no other thread writes the part of C this call covers.
unsafe fn serial<F: Family>(
    (m, n, k): (usize, usize, usize),
    a: View<F::E>,
    b: View<F::E>,
    c: ViewMut<F::E>,
    accumulate: bool,
    scratch: &mut Scratch,
) {
    let nc_step = balanced_step(n, F::NC, F::NR);
    let kc_step = balanced_step(k, F::KC, 1);
    let mc_step = balanced_step(m, F::MC, F::MR);
    // Copy A without transposing: a row-major A packs row by row, anything else by depth.
    let a_rows = a.cs == 1 && a.rs != 1;
    // A row-major A whose blocks would each serve only one or two B panels is read in place:
    // the copy would cost about what it saves (a 64^3 product spent 8% of its time packing).
    // Not when its rows lie a multiple of 2 KiB apart, though: a tile's rows would then
    // share one or two L1 sets and evict each other.
    let a_in_place =
        a_rows && n <= 2 * F::NR && !(a.rs * std::mem::size_of::<F::E>()).is_multiple_of(2048);
    // A row-major B whose panels each serve a single block of A gains little from packing
    // (it is read once either way), so the kernel may read it in place, but only if walking
    // down a panel stays within few pages: each B row on its own page defeats the hardware
    // prefetcher and the TLB, and then packing row by row (streaming) is much faster.
    let few_pages = b.rs * std::mem::size_of::<F::E>() <= 4096 || kc_step <= 64;
    let b_in_place = b.cs == 1 && m <= mc_step && few_pages;
    let packed_b = if b_in_place {
        std::ptr::null_mut()
    } else {
        scratch
            .b
            .get::<F::E>(kc_step * nc_step.next_multiple_of(F::NR))
    };
    let (layout, a_stride) = if a_in_place {
        (a_layout::IN_PLACE, a.rs)
    } else if a_rows {
        (a_layout::ROWS, F::A_ROW_STRIDE)
    } else {
        (a_layout::DEPTH, kc_step)
    };
    let packed_a = if a_in_place {
        std::ptr::null_mut()
    } else {
        scratch.a.get::<F::E>(mc_step * a_stride)
    };
    for jc in (0..n).step_by(nc_step) {
        let nc = nc_step.min(n - jc);
        for pc in (0..k).step_by(kc_step) {
            let kc = kc_step.min(k - pc);
            let b_block = if b_in_place {
                PackedB::InPlace(b.offset(pc, jc))
            } else {
                F::pack_b(b.offset(pc, jc), nc, kc, packed_b);
                PackedB::Panels(packed_b)
            };
            for ic in (0..m).step_by(mc_step) {
                let mc = mc_step.min(m - ic);
                let a_block = if a_in_place {
                    a.offset(ic, pc).ptr
                } else {
                    let mut offset = 0;
                    for (i0, h) in row_panels(mc, F::MR) {
                        let (src, dst) = (a.offset(ic + i0, pc), packed_a.add(offset));
                        if a_rows {
                            F::pack_a_rows(src, h, kc, dst);
                        } else {
                            F::pack_a_depth(src, h, kc, dst);
                        }
                        offset += h * if a_rows { a_stride } else { kc };
                    }
                    packed_a.cast_const()
                };
                let block = Block::<F> {
                    mc,
                    nc,
                    kc,
                    a: a_block,
                    layout,
                    a_stride: if layout == a_layout::DEPTH {
                        kc
                    } else {
                        a_stride
                    },
                    b: b_block,
                    c: c.offset(ic, jc),
                    load_c: accumulate || pc > 0,
                };
                block.multiply();
            }
        }
    }
}

/// `(first row, rows)` of the balanced panels that cover `rows` rows with at most `max` each.
fn row_panels(rows: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let panels = rows.div_ceil(max);
    let (base, extra) = (rows / panels, rows % panels);
    (0..panels).map(move |p| (p * base + p.min(extra), base + usize::from(p < extra)))
}

/// Where a block's B comes from.
#[derive(Clone, Copy)]
enum PackedB<E> {
    /// Panels of `NR` columns packed by `serial`.
    Panels(*const E),
    /// The row-major source itself.
    InPlace(View<E>),
}

/// One `mc x kc` block of A (packed or in place) against one `kc x nc` block of B.
struct Block<F: Family> {
    mc: usize,
    nc: usize,
    kc: usize,
    /// The block's first A panel.
    a: *const F::E,
    /// The A panels' layout (see [`a_layout`]).
    layout: u8,
    /// Elements from one row of A to the next in the row layouts; `kc` in the depth layout.
    a_stride: usize,
    b: PackedB<F::E>,
    c: ViewMut<F::E>,
    load_c: bool,
}

impl<F: Family> Block<F> {
    /// # Safety
    /// The packed blocks hold what `serial` packed; C covers `mc x nc` elements.
    unsafe fn multiply(&self) {
        let Block { mc, nc, .. } = *self;
        for (panel, j0) in (0..nc).step_by(F::NR).enumerate() {
            let mut a_panel = self.a;
            for (i0, h) in row_panels(mc, F::MR) {
                self.tile(a_panel, i0, h, panel, j0);
                a_panel = a_panel.add(h * self.a_stride);
            }
        }
    }

    /// One microkernel call: rows `i0..i0 + h` of the block against B panel `panel`.
    ///
    /// # Safety
    /// As for [`Block::multiply`].
    #[inline(always)]
    unsafe fn tile(&self, a_panel: *const F::E, i0: usize, h: usize, panel: usize, j0: usize) {
        let kc = self.kc;
        let cols = F::NR.min(self.nc - j0);
        let (b, ldb) = match self.b {
            PackedB::Panels(p) => (p.add(panel * kc * F::NR), F::NR),
            PackedB::InPlace(v) => (v.offset(0, j0).ptr, v.rs),
        };
        let kernel = F::kernel_for(h, cols, self.layout);
        let c = self.c.offset(i0, j0);
        let lanes = last_lanes::<F>(cols);
        let lda = self.a_stride;
        if c.cs == 1 {
            kernel(kc, a_panel, lda, b, ldb, c.ptr, c.rs, lanes, self.load_c);
        } else {
            // C's columns are not contiguous: compute into an aligned local tile, then add it
            // into C element by element.
            #[repr(C, align(64))]
            struct Tile([f64; 12 * 16]); // the largest MR x NR: f32 12 x 32, f64 6 x 32
            const { assert!(F::MR * F::NR * std::mem::size_of::<F::E>() <= 12 * 16 * 8) };
            let mut tile = Tile([0.0; 12 * 16]);
            let t = tile.0.as_mut_ptr().cast::<F::E>();
            kernel(kc, a_panel, lda, b, ldb, t, F::NR, lanes, false);
            for i in 0..h {
                for j in 0..cols {
                    let dst = c.ptr.add(i * c.rs + j * c.cs);
                    let value = *t.add(i * F::NR + j);
                    *dst = if self.load_c { *dst + value } else { value };
                }
            }
        }
    }
}

/// How many lanes of the last vector a tile of `cols` columns uses.
fn last_lanes<F: Family>(cols: usize) -> usize {
    let lanes = F::LANES;
    cols - (cols - 1) / lanes * lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_panels_are_balanced_and_cover_everything() {
        for rows in 1..100 {
            let panels: Vec<_> = row_panels(rows, 12).collect();
            assert_eq!(panels.len(), rows.div_ceil(12));
            let mut next = 0;
            for &(start, h) in &panels {
                assert_eq!(start, next);
                assert!((1..=12).contains(&h));
                next += h;
            }
            assert_eq!(next, rows);
            let (lo, hi) = panels
                .iter()
                .fold((usize::MAX, 0), |(lo, hi), &(_, h)| (lo.min(h), hi.max(h)));
            assert!(hi - lo <= 1, "{rows}: {panels:?}");
        }
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
    fn balanced_steps_respect_the_maximum_and_alignment() {
        for len in 1..3000 {
            let step = balanced_step(len, 256, 32);
            assert!(step <= 256 && step.is_multiple_of(32) && step > 0);
            assert!(len.div_ceil(step) == len.div_ceil(256));
        }
        assert_eq!(balanced_step(784, 256, 1), 196);
    }
}
