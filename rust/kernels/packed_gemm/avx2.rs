//! The AVX2 + FMA families of the packed GEMM (see `family.rs`), for x86-64 CPUs without
//! AVX-512 (AMD before Zen 4, most Intel laptops and desktops): 12 ymm accumulators per tile,
//! 6 rows of two vectors (16 f32 or 8 f64 columns), leaving two registers for B and one for
//! the broadcast. Ragged edges use vector masks (`vmaskmov`). Everything here requires AVX2
//! and FMA, which callers check first.

use super::family::simd_family;
use std::arch::x86_64::*;

/// Eight set lanes then eight clear ones: the mask of the first `n` of 8 lanes starts at
/// `8 - n`.
static MASK_I32: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
/// The same for 4 lanes of 64 bits.
static MASK_I64: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];

/// The mask of the first `lanes` (at most 8) f32 lanes.
#[inline(always)]
unsafe fn mask_f32(lanes: usize) -> __m256i {
    _mm256_loadu_si256(MASK_I32.as_ptr().add(8 - lanes.min(8)).cast())
}

/// The mask of the first `lanes` (at most 4) f64 lanes.
#[inline(always)]
unsafe fn mask_f64(lanes: usize) -> __m256i {
    _mm256_loadu_si256(MASK_I64.as_ptr().add(4 - lanes.min(4)).cast())
}

/// `_mm256_maskload_ps` with the mask first, as the AVX-512 intrinsics take it.
#[inline(always)]
unsafe fn maskz_loadu_ps(mask: __m256i, ptr: *const f32) -> __m256 {
    _mm256_maskload_ps(ptr, mask)
}

/// `_mm256_maskload_pd` with the mask first.
#[inline(always)]
unsafe fn maskz_loadu_pd(mask: __m256i, ptr: *const f64) -> __m256d {
    _mm256_maskload_pd(ptr, mask)
}

/// Transpose an 8 x 8 block of f32 held as 8 ymm rows.
///
/// # Safety
/// AVX must be available.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_f32(r: &mut [__m256; 8]) {
    // Stage 1: interleave row pairs; t[2p] holds columns 0,1 | 4,5 and t[2p+1] columns
    // 2,3 | 6,7 of rows 2p and 2p+1 (per 128-bit half).
    let mut t = [_mm256_setzero_ps(); 8];
    for p in 0..4 {
        t[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    // Stage 2: per group of four rows, u[4g + q] holds column q (first half) and q + 4
    // (second half) of rows 4g..4g+4.
    let mut u = [_mm256_setzero_ps(); 8];
    for g in 0..2 {
        let (lo0, hi0, lo1, hi1) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        u[4 * g] = _mm256_shuffle_ps::<0x44>(lo0, lo1);
        u[4 * g + 1] = _mm256_shuffle_ps::<0xEE>(lo0, lo1);
        u[4 * g + 2] = _mm256_shuffle_ps::<0x44>(hi0, hi1);
        u[4 * g + 3] = _mm256_shuffle_ps::<0xEE>(hi0, hi1);
    }
    // Stage 3: join the two groups' halves.
    for q in 0..4 {
        r[q] = _mm256_permute2f128_ps::<0x20>(u[q], u[4 + q]);
        r[4 + q] = _mm256_permute2f128_ps::<0x31>(u[q], u[4 + q]);
    }
}

/// Transpose a 4 x 4 block of f64 held as 4 ymm rows.
///
/// # Safety
/// AVX must be available.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_f64(r: &mut [__m256d; 4]) {
    let t0 = _mm256_unpacklo_pd(r[0], r[1]); // r0[0] r1[0] | r0[2] r1[2]
    let t1 = _mm256_unpackhi_pd(r[0], r[1]); // r0[1] r1[1] | r0[3] r1[3]
    let t2 = _mm256_unpacklo_pd(r[2], r[3]);
    let t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd::<0x20>(t0, t2);
    r[1] = _mm256_permute2f128_pd::<0x20>(t1, t3);
    r[2] = _mm256_permute2f128_pd::<0x31>(t0, t2);
    r[3] = _mm256_permute2f128_pd::<0x31>(t1, t3);
}

simd_family!(
    mod f32x8, feature "avx2,fma", elem f32, lanes 8,
    // Near the usual AVX2 blocking (BLIS's Haswell and Zen configurations: KC 256): an A
    // block of MC x KC is 180 KiB and a pass of 8 B panels of KC x 16 is 160 KiB, together
    // within a 512 KiB L2, while the 7.5 KiB A panel stays in L1. Measured in one process on
    // a Zen 3:
    // - KC 320 rather than 256 keeps convolution GEMMs with K = 288 or 576 (3x3 kernels on
    //   32 or 64 channels) to whole or halved depths: 64x288 @ 288x65536 ran 1.05x faster on
    //   one thread and 1.08-1.11x on two, other shapes within noise; KC 384 or 512 gained
    //   nothing more.
    // - Passes of 8 B panels against one (BLIS's order): 2048^3 1.03-1.05x faster on one
    //   thread and 1.02-1.08x on two, 1024^3 0.99-1.05x, 512^3 within noise, conv products
    //   1.01-1.04x on one thread and 1.06-1.18x on two; 12 or 16 panels gained about as
    //   much, 4 less.
    // - NC 2048 rather than 1024 packs A once instead of twice in a 2048-wide product:
    //   2048^3 1.015x faster on one thread, 4096x4096x1024 1.05x; the B block takes 2.5 MiB.
    kc 320, mc 144, nc 2048, pass 8,
    vectors 2 [1 2], rows 6 [1 2 3 4 5 6],
    setzero _mm256_setzero_ps, set1 _mm256_set1_ps,
    fmadd _mm256_fmadd_ps, add _mm256_add_ps, loadu _mm256_loadu_ps, storeu _mm256_storeu_ps,
    lane_mask mask_f32, maskz_loadu maskz_loadu_ps,
    mask_storeu _mm256_maskstore_ps, transpose transpose_f32
);

simd_family!(
    mod f64x4, feature "avx2,fma", elem f64, lanes 4,
    // The same tile in f64 is 6 x 8; B panels of KC x 8 f64 are again 16 KiB.
    // Passes of 8 B panels and NC 2048 as in f32 (128 KiB passes, a 4 MiB B block): 2048^3
    // ran 1.03x and 1.02x faster for them on one thread.
    kc 256, mc 72, nc 2048, pass 8,
    vectors 2 [1 2], rows 6 [1 2 3 4 5 6],
    setzero _mm256_setzero_pd, set1 _mm256_set1_pd,
    fmadd _mm256_fmadd_pd, add _mm256_add_pd, loadu _mm256_loadu_pd, storeu _mm256_storeu_pd,
    lane_mask mask_f64, maskz_loadu maskz_loadu_pd,
    mask_storeu _mm256_maskstore_pd, transpose transpose_f64
);
