//! What every SIMD family of the packed GEMM shares: the microkernel's signature, the A
//! panel layouts, and the macro that instantiates a family (its microkernel and packing
//! routines) from an instruction set's intrinsics. `avx512.rs` and `avx2.rs` instantiate it.
//!
//! Packed layouts (see `mod.rs` for who packs what). An A panel of `h <= MR` rows is packed
//! in whichever layout its source can be copied to without transposing:
//! - row layout (from a row-major A): element `(i, p)` at `i * A_ROW_STRIDE + p`, a constant
//!   row stride, so the kernel's broadcasts use constant offsets from one pointer;
//! - depth layout (from a column-major A, i.e. a transposed view): element `(i, p)` at
//!   `p * h + i`;
//! - or not packed at all: a row-major A read in place, element `(i, p)` at `i * lda + p`
//!   (for products too narrow to repay the copy; see `mod.rs`).
//!
//! A B panel stores element `(p, j)` at `p * NR + j`, zero-padded to `NR` columns (from a
//! column-major B this is a transpose, done `LANES x LANES` in registers). A row-major B may
//! also be read in place: the kernel takes B's row stride and masks the last vector's loads.
//!
//! The microkernel keeps an `h x NR` tile of C in `NV * h` vector registers and multiplies by
//! broadcasting A and loading B, so C rows are contiguous vectors: partial tiles at the right
//! edge are handled by masked loads and stores, and at the bottom edge by a kernel
//! instantiated for fewer rows.

/// The signature every microkernel instantiation shares:
/// `(k, a_panel, a_row_stride, b, b_row_stride, c, c_row_stride, last_lanes, load_c)` computes
/// `C[..h, ..n] (+)= A_panel @ B[..k, ..n]` where `n = (vectors - 1) * LANES + last_lanes`.
/// `a_row_stride` is read only by the in-place layout.
pub type KernelFn<T> =
    unsafe fn(usize, *const T, usize, *const T, usize, *mut T, usize, usize, bool);

/// How an A panel is laid out (the microkernel's `LAYOUT` parameter).
pub mod a_layout {
    /// Packed, element `(i, p)` at `p * h + i`.
    pub const DEPTH: u8 = 0;
    /// Packed, element `(i, p)` at `i * A_ROW_STRIDE + p`.
    pub const ROWS: u8 = 1;
    /// Not packed: a row-major source, element `(i, p)` at `i * lda + p`.
    pub const IN_PLACE: u8 = 2;
}

/// The microkernels for tiles of `rows` rows and each of the listed vector counts, in the
/// three A layouts (used inside each family's module, where `kernel` is defined).
macro_rules! kernels_of_row {
    ($t:ty, $rows:literal, [$($vectors:literal)*]) => {
        [$([
            kernel::<$rows, $vectors, DEPTH> as KernelFn<$t>,
            kernel::<$rows, $vectors, ROWS>,
            kernel::<$rows, $vectors, IN_PLACE>,
        ]),*]
    };
}

macro_rules! simd_family {
    (
        mod $name:ident, feature $feature:literal, elem $t:ty, lanes $lanes:expr,
        kc $kc:expr, mc $mc:expr, nc $nc:expr, pass $pass:expr,
        vectors $nv:literal $vector_counts:tt, rows $mr:literal [$($r:literal)*],
        setzero $setzero:ident, set1 $set1:ident, fmadd $fmadd:ident,
        add $add:ident, loadu $loadu:ident, storeu $storeu:ident,
        lane_mask $lane_mask:ident, maskz_loadu $maskz_loadu:ident,
        mask_storeu $mask_storeu:ident, transpose $transpose:ident
    ) => {
        pub mod $name {
            use super::super::family::a_layout::{DEPTH, IN_PLACE, ROWS};
            use super::super::family::{kernels_of_row, KernelFn};
            // The family's intrinsics and helpers, from the module that instantiates it.
            use super::*;

            /// The family as a type, for the driver's generic code.
            pub struct Family;

            /// Elements per vector register.
            pub const LANES: usize = $lanes;
            /// Vectors per row of a C tile.
            pub const NV: usize = $nv;
            /// Columns of a B panel and of the C tile.
            pub const NR: usize = NV * LANES;
            /// Most rows of a C tile (NV * MR accumulators + NV B vectors + 1 broadcast <= 32).
            pub const MR: usize = $mr;
            /// Most columns of a packed A panel (the depth of a block).
            pub const KC: usize = $kc;
            /// Most rows of a packed A block (`MC x KC` should sit in L2).
            pub const MC: usize = $mc;
            /// Most columns of a packed B block.
            pub const NC: usize = $nc;
            /// B panels per pass over a block's A panels (see `Block::multiply` in `mod.rs`).
            pub const PASS_PANELS: usize = $pass;
            /// Row stride of the row layout: one cache line more than `KC`, so consecutive
            /// rows fall in different L1 sets instead of all aliasing on a power-of-two stride.
            pub const A_ROW_STRIDE: usize = KC + 64 / std::mem::size_of::<$t>();


            /// Copy `len` contiguous elements: whole vectors, then one masked vector.
            ///
            /// # Safety
            /// Its instruction set; `len` elements readable at `src` and writable at `dst`.
            #[inline(always)]
            unsafe fn copy_contiguous(src: *const $t, dst: *mut $t, len: usize) {
                copy_contiguous_within(src, dst, len, len);
            }

            /// [`copy_contiguous`] allowed to write garbage past `len`, up to `room` elements
            /// from `dst`, so that a partial last vector is stored whole when it fits.
            ///
            /// # Safety
            /// Its instruction set; `len` elements readable at `src`; `room >= len`
            /// elements writable at `dst`.
            #[inline(always)]
            unsafe fn copy_contiguous_within(src: *const $t, dst: *mut $t, len: usize, room: usize) {
                let mut p = 0;
                while p + LANES <= len {
                    $storeu(dst.add(p), $loadu(src.add(p)));
                    p += LANES;
                }
                if p < len {
                    let mask = $lane_mask(len - p);
                    let v = $maskz_loadu(mask, src.add(p));
                    if p + LANES <= room {
                        $storeu(dst.add(p), v);
                    } else {
                        $mask_storeu(dst.add(p), mask, v);
                    }
                }
            }

            /// `C (+)= A_panel @ B` for an `R x (NV vectors)` tile; see [`KernelFn`]. The A
            /// panel's layout is `LAYOUT` (see [`super::a_layout`]): packed rows (row stride
            /// [`A_ROW_STRIDE`], a constant, so every broadcast is one pointer plus an
            /// immediate), packed depth, or in place with row stride `lda`.
            ///
            /// # Safety
            /// Its instruction set must be available; the A panel holds `k` columns of `R`
            /// rows in its layout; row `p < k` of B has `n` readable elements at
            /// `b + p * ldb`; row `i < R` of C has `n` writable elements at `c + i * ldc`.
            // The arguments are the microkernel's whole interface, as in BLIS; a struct would
            // only move them through memory.
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = $feature)]
            unsafe fn kernel<const R: usize, const NV: usize, const LAYOUT: u8>(
                k: usize,
                a: *const $t,
                lda: usize,
                b: *const $t,
                ldb: usize,
                c: *mut $t,
                ldc: usize,
                last_lanes: usize,
                load_c: bool,
            ) {
                // Start fetching the C tile now if it will be read after the k loop. (A tile
                // that is only written is not prefetched: the read would cost a second trip
                // for ownership and was measured slower.)
                if load_c {
                    for i in 0..R {
                        for v in 0..NV {
                            let line = c.wrapping_add(i * ldc + v * LANES);
                            _mm_prefetch::<_MM_HINT_T0>(line as *const i8);
                        }
                    }
                }
                let last = $lane_mask(last_lanes);
                let mut acc = [[$setzero(); NV]; R];
                let (mut a, mut b) = (a, b);
                // One step of the inner product: C_tile += A[:, p] (x) B[p, :]. `masked` is
                // only for a ragged right edge: a zero-masking load costs an extra uop on the
                // FMA ports, so full-width tiles use plain loads.
                let mut step = |a: &mut *const $t, b: &mut *const $t, masked: bool| {
                    let mut bv = [$setzero(); NV];
                    for (v, slot) in bv.iter_mut().enumerate() {
                        *slot = if masked && v + 1 == NV {
                            $maskz_loadu(last, b.add(v * LANES))
                        } else {
                            $loadu(b.add(v * LANES))
                        };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        let offset = match LAYOUT {
                            ROWS => i * A_ROW_STRIDE,
                            IN_PLACE => i * lda,
                            _ => i,
                        };
                        let av = $set1(*a.add(offset));
                        for v in 0..NV {
                            row[v] = $fmadd(av, bv[v], row[v]);
                        }
                    }
                    *a = a.wrapping_add(if LAYOUT == DEPTH { R } else { 1 });
                    *b = b.wrapping_add(ldb);
                };
                // Unrolled by four so loop bookkeeping stays off the FMA ports.
                if last_lanes >= LANES {
                    for _ in 0..k / 4 {
                        step(&mut a, &mut b, false);
                        step(&mut a, &mut b, false);
                        step(&mut a, &mut b, false);
                        step(&mut a, &mut b, false);
                    }
                    for _ in 0..k % 4 {
                        step(&mut a, &mut b, false);
                    }
                } else {
                    for _ in 0..k / 4 {
                        step(&mut a, &mut b, true);
                        step(&mut a, &mut b, true);
                        step(&mut a, &mut b, true);
                        step(&mut a, &mut b, true);
                    }
                    for _ in 0..k % 4 {
                        step(&mut a, &mut b, true);
                    }
                }
                // Masked accesses only where the last vector is partial (a masked store is
                // much slower than a plain one on some CPUs).
                for (i, row) in acc.iter().enumerate() {
                    for (v, &value) in row.iter().enumerate() {
                        let ptr = c.add(i * ldc + v * LANES);
                        if v + 1 < NV || last_lanes >= LANES {
                            let x = if load_c { $add(value, $loadu(ptr)) } else { value };
                            $storeu(ptr, x);
                        } else {
                            let x = if load_c {
                                $add(value, $maskz_loadu(last, ptr))
                            } else {
                                value
                            };
                            $mask_storeu(ptr, last, x);
                        }
                    }
                }
            }

            /// `KERNELS[h - 1][vectors - 1][layout]` computes an `h`-row, `vectors`-vector
            /// tile from an A panel in `layout` (see [`super::a_layout`]).
            static KERNELS: [[[KernelFn<$t>; 3]; NV]; MR] =
                [$(kernels_of_row!($t, $r, $vector_counts)),*];

            /// The kernel for a tile of `rows` (1..=MR) rows and `cols` (1..=NR) columns whose
            /// A panel is in `layout` (see [`super::a_layout`]).
            pub fn kernel_for(rows: usize, cols: usize, layout: u8) -> KernelFn<$t> {
                KERNELS[rows - 1][cols.div_ceil(LANES) - 1][usize::from(layout)]
            }

            /// Copy a `rows x cols` block (`rows, cols <= LANES`; row `i` at `src + i * src_rs`,
            /// columns contiguous) transposed to `dst`: `dst[j * dst_rs + i] = src(i, j)`,
            /// writing `LANES` elements per output row (zeros past `rows`).
            ///
            /// # Safety
            /// Its instruction set; the source block readable, `cols` output rows of `LANES`
            /// elements writable.
            #[target_feature(enable = $feature)]
            unsafe fn transpose_block(
                src: *const $t,
                src_rs: usize,
                rows: usize,
                cols: usize,
                dst: *mut $t,
                dst_rs: usize,
            ) {
                let col_mask = $lane_mask(cols);
                let mut r = [$setzero(); LANES];
                for (i, slot) in r.iter_mut().enumerate().take(rows) {
                    *slot = $maskz_loadu(col_mask, src.add(i * src_rs));
                }
                super::$transpose(&mut r);
                for (j, &row) in r.iter().enumerate().take(cols) {
                    $storeu(dst.add(j * dst_rs), row);
                }
            }

            /// Pack `h` rows x `kc <= KC` columns of A (element `(i, p)` at
            /// `src[i * rs + p * cs]`) into row layout: `dst[i * KC + p]`.
            ///
            /// # Safety
            /// Its instruction set; the strided source readable; `dst` holds `h * KC` elements.
            #[target_feature(enable = $feature)]
            pub unsafe fn pack_a_rows(
                src: *const $t,
                rs: usize,
                cs: usize,
                h: usize,
                kc: usize,
                dst: *mut $t,
            ) {
                for i in 0..h {
                    let (s, d) = (src.add(i * rs), dst.add(i * A_ROW_STRIDE));
                    if cs == 1 {
                        copy_contiguous(s, d, kc);
                    } else {
                        for p in 0..kc {
                            *d.add(p) = *s.add(p * cs);
                        }
                    }
                }
            }

            /// Pack `h` rows x `kc` columns of A (element `(i, p)` at `src[i * rs + p * cs]`)
            /// into depth layout: `dst[p * h + i]`.
            ///
            /// # Safety
            /// Its instruction set; the strided source readable; `dst` holds `h * kc` elements.
            #[target_feature(enable = $feature)]
            pub unsafe fn pack_a_depth(
                src: *const $t,
                rs: usize,
                cs: usize,
                h: usize,
                kc: usize,
                dst: *mut $t,
            ) {
                if rs == 1 {
                    // Column-major source (a transposed view): each step is a short copy.
                    // A full-width store may run past this step's `h` elements into the
                    // next step's, which that step then overwrites: only the steps whose
                    // store would leave the panel pay for a masked store (AVX2's is slow:
                    // packing a transposed 784 x 64 A this way made its product 1.4x faster).
                    for p in 0..kc {
                        let room = (kc - p) * h;
                        copy_contiguous_within(src.add(p * cs), dst.add(p * h), h, room);
                    }
                } else {
                    for p in 0..kc {
                        for i in 0..h {
                            *dst.add(p * h + i) = *src.add(i * rs + p * cs);
                        }
                    }
                }
            }

            /// Pack `kc` rows x `nc` columns of B (element `(p, j)` at `src[p * rs + j * cs]`)
            /// into panels of `NR` columns, `dst[(j / NR) * kc * NR + p * NR + j % NR]`,
            /// zero-filling the last panel past `nc`.
            ///
            /// # Safety
            /// Its instruction set; the strided source readable; `dst` 64-byte aligned with
            /// `kc * nc.next_multiple_of(NR)` elements.
            #[target_feature(enable = $feature)]
            pub unsafe fn pack_b(
                src: *const $t,
                rs: usize,
                cs: usize,
                nc: usize,
                kc: usize,
                dst: *mut $t,
            ) {
                let panels = nc.div_ceil(NR);
                if cs == 1 {
                    // Row-major source: walk each row left to right, so the reads stream
                    // through memory (a panel at a time would touch a new page every row).
                    let full = nc / NR;
                    for p in 0..kc {
                        let s = src.add(p * rs);
                        for panel in 0..full {
                            let d = dst.add(panel * kc * NR + p * NR);
                            for v in 0..NV {
                                $storeu(d.add(v * LANES), $loadu(s.add(panel * NR + v * LANES)));
                            }
                        }
                        if full < panels {
                            // The ragged last panel: copy what exists, zero the rest.
                            let (j0, d) = (full * NR, dst.add(full * kc * NR + p * NR));
                            for v in 0..NV {
                                let have = (nc - j0).saturating_sub(v * LANES);
                                let value = if have == 0 {
                                    $setzero()
                                } else {
                                    $maskz_loadu($lane_mask(have), s.add(j0 + v * LANES))
                                };
                                $storeu(d.add(v * LANES), value);
                            }
                        }
                    }
                    return;
                }
                for panel in 0..panels {
                    let j0 = panel * NR;
                    let nr = NR.min(nc - j0);
                    let (s, d) = (src.add(j0 * cs), dst.add(panel * kc * NR));
                    if rs == 1 {
                        // Column-major source (a transposed view): transpose in registers.
                        for p0 in (0..kc).step_by(LANES) {
                            let cols = LANES.min(kc - p0);
                            for jj in (0..NR).step_by(LANES) {
                                let rows = nr.saturating_sub(jj).min(LANES);
                                let from = s.add(jj.min(nr - 1) * cs + p0);
                                transpose_block(from, cs, rows, cols, d.add(p0 * NR + jj), NR);
                            }
                        }
                    } else {
                        for p in 0..kc {
                            for j in 0..NR {
                                *d.add(p * NR + j) =
                                    if j < nr { *s.add(p * rs + j * cs) } else { <$t>::default() };
                            }
                        }
                    }
                }
            }
        }
    };
}

pub(crate) use {kernels_of_row, simd_family};
