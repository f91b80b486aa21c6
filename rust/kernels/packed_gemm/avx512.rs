//! The AVX-512 families of the packed GEMM (see `family.rs`): 24 zmm accumulators per tile,
//! 12 rows of two vectors for f32 and 6 rows of four vectors for f64, with mask registers
//! for the ragged edges. Everything here requires AVX-512F, which callers check first.

use super::family::simd_family;
use std::arch::x86_64::*;

/// The mask of the first `lanes` (at most 16) of 16 lanes.
#[inline(always)]
fn mask16(lanes: usize) -> __mmask16 {
    if lanes >= 16 {
        !0
    } else {
        (1u16 << lanes) - 1
    }
}

/// The mask of the first `lanes` (at most 8) of 8 lanes.
#[inline(always)]
fn mask8(lanes: usize) -> __mmask8 {
    if lanes >= 8 {
        !0
    } else {
        (1u8 << lanes) - 1
    }
}

/// Transpose a 16 x 16 block of f32 held as 16 zmm rows.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_f32(r: &mut [__m512; 16]) {
    // Stage 1: interleave row pairs.
    let mut lo = [_mm512_setzero_ps(); 8];
    let mut hi = [_mm512_setzero_ps(); 8];
    for p in 0..8 {
        lo[p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        hi[p] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    // Stage 2: per group of 4 rows, 128-bit lane l of u[g][q] holds column 4l+q of the group.
    let mut u = [[_mm512_setzero_ps(); 4]; 4];
    for g in 0..4 {
        let (l0, l1) = (_mm512_castps_pd(lo[2 * g]), _mm512_castps_pd(lo[2 * g + 1]));
        let (h0, h1) = (_mm512_castps_pd(hi[2 * g]), _mm512_castps_pd(hi[2 * g + 1]));
        u[g][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(l0, l1));
        u[g][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(l0, l1));
        u[g][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(h0, h1));
        u[g][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(h0, h1));
    }
    // Stages 3-4: gather lane l of the four groups into one register = column 4l+q.
    for q in 0..4 {
        let v01 = _mm512_shuffle_f32x4::<0x88>(u[0][q], u[1][q]);
        let w01 = _mm512_shuffle_f32x4::<0xDD>(u[0][q], u[1][q]);
        let v23 = _mm512_shuffle_f32x4::<0x88>(u[2][q], u[3][q]);
        let w23 = _mm512_shuffle_f32x4::<0xDD>(u[2][q], u[3][q]);
        r[q] = _mm512_shuffle_f32x4::<0x88>(v01, v23);
        r[8 + q] = _mm512_shuffle_f32x4::<0xDD>(v01, v23);
        r[4 + q] = _mm512_shuffle_f32x4::<0x88>(w01, w23);
        r[12 + q] = _mm512_shuffle_f32x4::<0xDD>(w01, w23);
    }
}

/// Transpose an 8 x 8 block of f64 held as 8 zmm rows.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_f64(r: &mut [__m512d; 8]) {
    // Stage 1: t[2p] holds columns 2l, t[2p+1] columns 2l+1 of rows 2p, 2p+1 (lane l).
    let mut t = [_mm512_setzero_pd(); 8];
    for p in 0..4 {
        t[2 * p] = _mm512_unpacklo_pd(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_pd(r[2 * p], r[2 * p + 1]);
    }
    // Stages 2-3: gather lane l of the four row pairs into one register = column 2l+q.
    for q in 0..2 {
        let v01 = _mm512_shuffle_f64x2::<0x88>(t[q], t[2 + q]);
        let w01 = _mm512_shuffle_f64x2::<0xDD>(t[q], t[2 + q]);
        let v23 = _mm512_shuffle_f64x2::<0x88>(t[4 + q], t[6 + q]);
        let w23 = _mm512_shuffle_f64x2::<0xDD>(t[4 + q], t[6 + q]);
        r[q] = _mm512_shuffle_f64x2::<0x88>(v01, v23);
        r[4 + q] = _mm512_shuffle_f64x2::<0xDD>(v01, v23);
        r[2 + q] = _mm512_shuffle_f64x2::<0x88>(w01, w23);
        r[6 + q] = _mm512_shuffle_f64x2::<0xDD>(w01, w23);
    }
}

simd_family!(
    mod f32x16, feature "avx512f", elem f32, lanes 16,
    // Blocks measured on an Ice Lake-SP core (48 KiB L1d, 1.25 MiB L2), within what a Zen 5
    // core (48 KiB L1d, 1 MiB L2) holds: each A panel (12 x 384, 18 KiB) stays in L1 while a
    // pass of 8 B panels (384 KiB) streams past it from L2, as on AVX2 (see `avx2.rs`). One
    // B panel per pass (BLIS's order) with KC = 512 made that panel 64 KiB, more than L1
    // holds: paired with OpenBLAS on two threads, 512^2 to 2048^2 went from 0.93-1.02x to
    // 1.00-1.16x (dlcore 2048^2: ~200 -> ~220 GFLOP/s); one thread within noise.
    kc 384, mc 96, nc 1024, pass 8,
    vectors 2 [1 2], rows 12 [1 2 3 4 5 6 7 8 9 10 11 12],
    setzero _mm512_setzero_ps, set1 _mm512_set1_ps,
    fmadd _mm512_fmadd_ps, add _mm512_add_ps, loadu _mm512_loadu_ps, storeu _mm512_storeu_ps,
    lane_mask mask16, maskz_loadu _mm512_maskz_loadu_ps,
    mask_storeu _mm512_mask_storeu_ps, transpose transpose_f32
);

simd_family!(
    mod f64x8, feature "avx512f", elem f64, lanes 8, kc 256, mc 96, nc 1024, pass 1,
    // Six rows of four vectors rather than twelve of two: per step 4 loads and 6 broadcasts
    // feed the 24 FMAs instead of 2 and 12 (one-thread float64 1024^3 went from 0.88x to
    // 0.94x OpenBLAS; for f32 eight rows of three vectors measured no different, so it keeps
    // the tile the blocking was tuned for).
    vectors 4 [1 2 3 4], rows 6 [1 2 3 4 5 6],
    setzero _mm512_setzero_pd, set1 _mm512_set1_pd,
    fmadd _mm512_fmadd_pd, add _mm512_add_pd, loadu _mm512_loadu_pd, storeu _mm512_storeu_pd,
    lane_mask mask8, maskz_loadu _mm512_maskz_loadu_pd,
    mask_storeu _mm512_mask_storeu_pd, transpose transpose_f64
);
