//! A BLIS-style packed GEMM with AVX-512 or AVX2 + FMA microkernels: dlcore's matmul on x86-64
//! CPUs that have either. Other CPUs use the portable `gemm` crate (see `matmul.rs`). The
//! microkernels and packing routines come from one macro (`family.rs`) instantiated per
//! instruction set and element type (`avx512.rs`, `avx2.rs`); the driver here is generic.
//!
//! The loops, outermost first (Goto/BLIS): split C's columns into blocks of `NC`; split the
//! inner dimension into blocks of `KC` and pack that `KC x NC` block of B into panels of `NR`
//! columns; split C's rows into blocks of `MC` and pack that `MC x KC` block of A (it stays in
//! L2) into panels of at most `MR` rows; then take the B panels a few (`PASS_PANELS`) at a
//! time and run each A panel against all of them (see [`Block::multiply`]). Row panels are
//! balanced (64 rows become 11+11+11+11+10+10, not 12*5+4) so no tile runs with too few
//! accumulators to hide FMA latency; the ragged right edge is masked inside the kernel.
//! Every pack is a streaming copy except B from a transposed view, which is transposed
//! 16 x 16 in registers; a row-major B that would be read only once anyway is not packed at
//! all when its panels stay within few pages, nor is a row-major A in a product so narrow (at
//! most two B panels) that each packed A block would be used only once or twice.
//!
//! Block sizes are each family's (see the instantiations).
//!
//! Threads share the product as `parallel.rs` describes: the packed blocks of B shared, or
//! strips of C computed serially.

mod avx2;
mod avx512;
mod buffers;
mod family;
mod parallel;

use std::any::TypeId;

use self::buffers::Scratch;
use self::family::{a_layout, KernelFn};
use self::parallel::run;
use super::real::Real;

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
    /// B panels each A panel meets in one pass (see [`Block::multiply`]).
    const PASS_PANELS: usize;
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
            const PASS_PANELS: usize = $($family)::+::PASS_PANELS;
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

/// Block sizes that split `len` into `ceil(len / max)` nearly equal blocks, each a multiple
/// of `align` (except the last), so no block is much smaller than the rest.
fn balanced_step(len: usize, max: usize, align: usize) -> usize {
    let blocks = len.div_ceil(max);
    len.div_ceil(blocks)
        .next_multiple_of(align)
        .min(max.max(align))
}

/// How a block of A reaches the microkernel: packed by rows, packed by depth, or read in
/// place (see `family.rs` for the layouts).
#[derive(Clone, Copy)]
struct APlan<E> {
    a: View<E>,
    /// A is row-major, so it packs row by row (else by depth).
    rows: bool,
    in_place: bool,
}

impl<E: Real> APlan<E> {
    /// The plan for an A multiplied into `n` columns of C.
    fn new<F: Family<E = E>>(a: View<E>, n: usize) -> Self {
        // Copy A without transposing: a row-major A packs row by row, anything else by depth.
        let rows = a.cs == 1 && a.rs != 1;
        // A row-major A whose blocks would each serve only one or two B panels is read in
        // place: the copy would cost about what it saves (a 64^3 product spent 8% of its time
        // packing). Not when its rows lie a multiple of 2 KiB apart, though: a tile's rows
        // would then share one or two L1 sets and evict each other.
        let in_place =
            rows && n <= 2 * F::NR && !(a.rs * std::mem::size_of::<E>()).is_multiple_of(2048);
        Self { a, rows, in_place }
    }

    /// Elements of packing space a block of `mc_step` rows needs (0 in place).
    fn packed_len<F: Family<E = E>>(&self, mc_step: usize, kc_step: usize) -> usize {
        match (self.in_place, self.rows) {
            (true, _) => 0,
            (false, true) => mc_step * F::A_ROW_STRIDE,
            (false, false) => mc_step * kc_step,
        }
    }

    /// Multiply rows `ic..ic + mc`, depths `pc..pc + kc` of A (packing them into `packed_a`
    /// unless read in place) by `b_block` into `c_block`.
    ///
    /// # Safety
    /// As for [`matmul`]; `packed_a` holds [`APlan::packed_len`] elements; `b_block` holds
    /// the `kc x nc` block of B at depth `pc`; no other thread writes `c_block`'s `mc x nc`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn multiply<F: Family<E = E>>(
        &self,
        (ic, mc): (usize, usize),
        (pc, kc): (usize, usize),
        b_block: PackedB<E>,
        nc: usize,
        c_block: ViewMut<E>,
        load_c: bool,
        packed_a: *mut E,
    ) {
        let (a_block, layout, a_stride) = if self.in_place {
            (self.a.offset(ic, pc).ptr, a_layout::IN_PLACE, self.a.rs)
        } else {
            let stride = if self.rows { F::A_ROW_STRIDE } else { kc };
            let mut offset = 0;
            for (i0, h) in row_panels(mc, F::MR) {
                let (src, dst) = (self.a.offset(ic + i0, pc), packed_a.add(offset));
                if self.rows {
                    F::pack_a_rows(src, h, kc, dst);
                } else {
                    F::pack_a_depth(src, h, kc, dst);
                }
                offset += h * stride;
            }
            let layout = if self.rows {
                a_layout::ROWS
            } else {
                a_layout::DEPTH
            };
            (packed_a.cast_const(), layout, stride)
        };
        let block = Block::<F> {
            mc,
            nc,
            kc,
            a: a_block,
            layout,
            a_stride,
            b: b_block,
            c: c_block,
            load_c,
        };
        block.multiply();
    }
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
    let plan = APlan::new::<F>(a, n);
    // A row-major B whose panels each serve a single block of A, and few rows of it (see
    // `max_in_place_rows`), gains little from packing, so the kernel may read it in place, but
    // only if walking down a panel stays within few pages: each B row on its own page defeats
    // the hardware prefetcher and the TLB, and then packing row by row (streaming) is much
    // faster.
    let row_bytes = b.rs * std::mem::size_of::<F::E>();
    let few_pages = row_bytes <= 4096 || kc_step <= 64;
    let most_rows = mc_step.min(max_in_place_rows(row_bytes, F::MR));
    let b_in_place = b.cs == 1 && m <= most_rows && few_pages;
    let packed_b = if b_in_place {
        std::ptr::null_mut()
    } else {
        scratch.b.get::<F::E>(packed_b_len::<F>(nc_step, kc_step))
    };
    let packed_a = scratch
        .a
        .get::<F::E>(plan.packed_len::<F>(mc_step, kc_step));
    for jc in (0..n).step_by(nc_step) {
        let nc = nc_step.min(n - jc);
        for pc in (0..k).step_by(kc_step) {
            let kc = kc_step.min(k - pc);
            let b_block = if b_in_place {
                PackedB::InPlace(b.offset(pc, jc))
            } else {
                F::pack_b(b.offset(pc, jc), nc, kc, packed_b);
                PackedB::Panels(packed_b.cast_const())
            };
            for ic in (0..m).step_by(mc_step) {
                let mc = mc_step.min(m - ic);
                let c_block = c.offset(ic, jc);
                let load_c = accumulate || pc > 0;
                plan.multiply::<F>((ic, mc), (pc, kc), b_block, nc, c_block, load_c, packed_a);
            }
        }
    }
}

/// Most rows of A for which the kernel reads a row-major B in place, its rows `row_bytes`
/// apart, rather than packing it (`mr`: rows per A panel). Every A panel reads the B panels
/// again, and B rows a multiple of a large power of two apart fall into few cache sets, so
/// those reads miss more the more A panels there are, while packing costs the same whatever
/// the stride. Rows 4 KiB or more apart (each on its own page, all in one L1 set) are read in
/// place only by a single A panel, which reads them once; below that the limit halves with
/// each factor of 2 in the stride: 16 rows at 2 KiB, 32 at 1 KiB, any block of A at 64 bytes
/// or an odd multiple of a smaller power of two.
///
/// Measured on a Zen 3 (one thread, GFLOP/s read in place -> packed; 5 rounds): f32
/// 48x512 @ 512x1024 37 -> 73, 8x1024 @ 1024x1024 22 -> 41, 64x64 @ 64x1024 (a 1x1
/// convolution) 38 -> 72, 32x512 @ 512x512 63 -> 69, 64x784 @ 784x256 (a linear layer)
/// 73 -> 81, f64 32x512 @ 512x512 19 -> 35. Kept in place: 6x512 @ 512x1024 (47 either way,
/// 39 against 34 in another run) and 16 to 48 rows at 1 KiB (32x1024 @ 1024x256: 85 against
/// 73).
fn max_in_place_rows(row_bytes: usize, mr: usize) -> usize {
    const PAGE_SHIFT: u32 = 12;
    const ROWS_BY_BYTES: usize = 32 << 10;
    match row_bytes.trailing_zeros() {
        shift if shift >= PAGE_SHIFT => mr,
        shift => ROWS_BY_BYTES >> shift,
    }
}

/// Elements of a packed `kc_step x nc_step` block of B (whole panels).
fn packed_b_len<F: Family>(nc_step: usize, kc_step: usize) -> usize {
    kc_step * nc_step.next_multiple_of(F::NR)
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
    /// Panels of `NR` columns, packed by `serial` or by the threads together.
    Panels(*const E),
    /// The row-major source itself.
    InPlace(View<E>),
}

// SAFETY: a B block is only read while it is shared (see `View`).
unsafe impl<E> Send for PackedB<E> {}
unsafe impl<E> Sync for PackedB<E> {}

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
    /// Every tile of the block, in passes over the A panels: each pass takes the next
    /// `PASS_PANELS` B panels, and each A panel meets all of them before the next A panel
    /// comes in. The A panel (MR x KC) then stays in L1 while the pass's B panels stream from
    /// L2 one after another, as in OpenBLAS's Haswell kernels. One B panel per pass (BLIS's
    /// order: the B panel in L1, the A panels streaming past it) kept a 20 KiB B panel and six
    /// strided A rows in L1 at once, and ran 2048^3 at 0.92-0.95x NumPy's speed on a Zen 3.
    ///
    /// # Safety
    /// The packed blocks hold what `serial` packed; C covers `mc x nc` elements.
    unsafe fn multiply(&self) {
        let Block { mc, nc, .. } = *self;
        let panels = nc.div_ceil(F::NR);
        for first in (0..panels).step_by(F::PASS_PANELS) {
            let pass = first..(first + F::PASS_PANELS).min(panels);
            let mut a_panel = self.a;
            for (i0, h) in row_panels(mc, F::MR) {
                for panel in pass.clone() {
                    self.tile(a_panel, i0, h, panel, panel * F::NR);
                }
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

    /// Packing a transposed A by depth stores whole vectors past each step's rows (the next
    /// step overwrites them): every element lands where it belongs and nothing is written
    /// past the panel, for every panel height and depth.
    fn check_pack_a_depth_of_transposed_view<F: Family>() {
        // Rows of A^T span past the tallest panel plus the view's offset of 2 (a fixed 13
        // was too few for AVX-512's 12-row panels: the view then ran off the array).
        let (m, k) = (F::MR + 3, 21);
        let src: Vec<F::E> = (0..m * k).map(|v| F::E::from_f64(v as f64)).collect();
        let sentinel = F::E::from_f64(-1.0);
        for h in 1..=F::MR {
            for kc in 1..=k {
                let mut dst = vec![sentinel; h * kc + 2 * F::LANES];
                // Element (i, p) at src[i + p * m]: A^T of a k x m row-major array.
                let view = View {
                    ptr: src[2..].as_ptr(),
                    rs: 1,
                    cs: m,
                };
                unsafe { F::pack_a_depth(view, h, kc, dst.as_mut_ptr()) };
                for p in 0..kc {
                    for i in 0..h {
                        assert_eq!(dst[p * h + i], src[2 + i + p * m], "h {h} kc {kc}");
                    }
                }
                assert!(
                    dst[h * kc..].iter().all(|&v| v == sentinel),
                    "h {h} kc {kc}"
                );
            }
        }
    }

    #[test]
    fn transposed_a_packs_by_depth_within_its_panel() {
        if Isa::Avx2.supported() {
            check_pack_a_depth_of_transposed_view::<avx2::f32x8::Family>();
            check_pack_a_depth_of_transposed_view::<avx2::f64x4::Family>();
        }
        if Isa::Avx512.supported() {
            check_pack_a_depth_of_transposed_view::<avx512::f32x16::Family>();
            check_pack_a_depth_of_transposed_view::<avx512::f64x8::Family>();
        }
    }

    #[test]
    fn b_is_read_in_place_by_fewer_rows_the_more_its_stride_aliases() {
        let mr = 6;
        assert_eq!(max_in_place_rows(4096, mr), mr); // 1024 f32 columns: one A panel
        assert_eq!(max_in_place_rows(16384, mr), mr); // only taken when KC <= 64
        assert_eq!(max_in_place_rows(2048, mr), 16);
        assert_eq!(max_in_place_rows(1024, mr), 32);
        assert_eq!(max_in_place_rows(3072, mr), 32); // 768 f32: 1 KiB times an odd number
        assert!(max_in_place_rows(784, mr) >= 2048); // 196 f32: any block of A
        assert!(max_in_place_rows(64 * 49, mr) >= 512);
        assert_eq!(max_in_place_rows(0, mr), mr); // a broadcast row (stride 0) never panics
    }

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
    fn balanced_steps_respect_the_maximum_and_alignment() {
        for len in 1..3000 {
            let step = balanced_step(len, 256, 32);
            assert!(step <= 256 && step.is_multiple_of(32) && step > 0);
            assert!(len.div_ceil(step) == len.div_ceil(256));
        }
        assert_eq!(balanced_step(784, 256, 1), 196);
    }
}
