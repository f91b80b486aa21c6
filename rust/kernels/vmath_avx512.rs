//! `tanh`, `sigmoid`, SiLU and GELU-tanh over f32 slices with AVX-512 intrinsics.
//!
//! The generic kernels (`vmath::tanh_f32` in an autovectorised loop) pay for a `vdivps`, the
//! slowest vector instruction there is, for separate multiplies and adds (Rust never
//! contracts `a * b + c` into an FMA), and tanh for both of its branches. Here the
//! polynomials use FMA, the division is `rcp14` plus one Newton step (as accurate as a
//! division to within an ulp, at a fraction of its cost), `vscalefps` applies the power of
//! two, and tanh is one formula over the whole range (see [`tanh16`]). The tests sweep the
//! f32 bit patterns against f64 references: within 3 ulp everywhere (2 measured).
//! Callers get `false` back when the CPU lacks AVX-512 and run the generic code instead.

use std::arch::x86_64::*;

/// Whether this CPU can run the kernels here (the check is a cached load).
pub fn available() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

/// The functions with a kernel here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Within 3 ulp.
    Tanh,
    /// `1 / (1 + e^-x)`, within 3 ulp.
    Sigmoid,
    /// `x * sigmoid(x)`.
    Silu,
    /// GELU's tanh form as `elementwise` writes it: `x * sigmoid(u)`, `u = 2 sqrt(2/pi) (x +
    /// 0.044715 x^3)`.
    GeluTanh,
}

/// `out[i] = kernel(x[i])` over the common length; `false` (and nothing written) without
/// AVX-512.
pub fn map(kernel: Kernel, x: &[f32], out: &mut [f32]) -> bool {
    if !available() {
        return false;
    }
    // SAFETY: the CPU supports AVX-512F.
    unsafe { map_avx512(kernel, x, out) };
    true
}

#[target_feature(enable = "avx512f")]
unsafe fn map_avx512(kernel: Kernel, x: &[f32], out: &mut [f32]) {
    match kernel {
        Kernel::Tanh => map16(x, out, |v| tanh16(v)),
        Kernel::Sigmoid => map16(x, out, |v| sigmoid16(v)),
        Kernel::Silu => map16(x, out, |v| _mm512_mul_ps(v, sigmoid16(v))),
        Kernel::GeluTanh => map16(x, out, |v| {
            let cube_term = _mm512_mul_ps(_mm512_set1_ps(0.044_715), _mm512_mul_ps(v, v));
            let u = _mm512_mul_ps(
                _mm512_set1_ps(1.595_769_2), // 2 sqrt(2/pi)
                _mm512_fmadd_ps(cube_term, v, v),
            );
            _mm512_mul_ps(v, sigmoid16(u))
        }),
    }
}

/// Apply `f` to 16 lanes at a time; the tail goes through masked loads and stores.
#[inline(always)]
unsafe fn map16(x: &[f32], out: &mut [f32], f: impl Fn(__m512) -> __m512) {
    let n = x.len().min(out.len());
    let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i + 16 <= n {
        _mm512_storeu_ps(dst.add(i), f(_mm512_loadu_ps(src.add(i))));
        i += 16;
    }
    if i < n {
        let mask: __mmask16 = (1u16 << (n - i)) - 1;
        let v = _mm512_maskz_loadu_ps(mask, src.add(i));
        _mm512_mask_storeu_ps(dst.add(i), mask, f(v));
    }
}

/// `e^t = (1 + w) * 2^n` with `w = e^r - 1` for `|r| <= ln(2)/2`, by `vmath::exp_f32`'s
/// reduction and polynomial; returns `(w, n)`, `n` as a float for `vscalefps`. `t` must be
/// finite or NaN (then both are NaN).
#[inline(always)]
unsafe fn exp_parts(t: __m512) -> (__m512, __m512) {
    let set = _mm512_set1_ps;
    let shifted = _mm512_fmadd_ps(t, set(std::f32::consts::LOG2_E), set(EXP_SHIFT));
    let n = _mm512_sub_ps(shifted, set(EXP_SHIFT));
    let r = _mm512_fnmadd_ps(n, set(0.693_359_4), t);
    let r = _mm512_fnmadd_ps(n, set(-2.121_944_4e-4), r);
    let mut p = set(EXP_P[0]);
    for c in &EXP_P[1..] {
        p = _mm512_fmadd_ps(p, r, set(*c));
    }
    (_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), n)
}

/// 1.5 * 2^23: adding it to a float below 2^22 in magnitude rounds it to an integer.
const EXP_SHIFT: f32 = 12_582_912.0;

/// `e^r = 1 + r + r^2 p(r)` on `|r| <= ln(2)/2`: the coefficients of `p`, highest first
/// (Cephes' `expf`, as in `vmath::exp_f32`).
const EXP_P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_2e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    0.166_666_65,
    0.5,
];

/// `num / den` for `den` in [1, 2^27]: `rcp14` is good to 2^-14, and one Newton step on the
/// quotient squares that error away, leaving the rounding of the last FMA.
#[inline(always)]
unsafe fn divide(num: __m512, den: __m512) -> __m512 {
    let r = _mm512_rcp14_ps(den);
    let q = _mm512_mul_ps(num, r);
    let residual = _mm512_fnmadd_ps(den, q, num);
    _mm512_fmadd_ps(residual, r, q)
}

/// `x` with the sign bit of `sign`.
#[inline(always)]
unsafe fn copysign(x: __m512, sign: __m512) -> __m512 {
    // Truth table 0xCA is a bit select: bits of `x` where the mask has 1s, else of `sign`.
    _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xCA>(
        _mm512_set1_epi32(i32::MAX),
        _mm512_castps_si512(x),
        _mm512_castps_si512(sign),
    ))
}

/// `tanh(a) = m / (m + 2)` with `m = e^2a - 1`, sign restored. With `e^2a = (1 + w) 2^n`,
/// `m = 2^n w + (2^n - 1)`: `w` keeps full relative precision for small `a` (where n = 0),
/// so one formula serves the whole range, with no second polynomial for small `|x|` and no
/// select between them.
#[inline(always)]
unsafe fn tanh16(x: __m512) -> __m512 {
    use std::f32::consts::{LN_2, LOG2_E};
    let set = _mm512_set1_ps;
    // Above 9.1 tanh rounds to 1, and e^18.2 is far from overflow. `min` returns its second
    // operand when either is NaN, so NaN passes through.
    let a = _mm512_min_ps(set(9.1), _mm512_abs_ps(x));
    // n = round(2a / ln 2) as in `exp_parts`, and h = a - n ln(2) / 2, half the reduced
    // argument r = 2a - n ln 2. One constant for ln 2 suffices: its rounding error grows
    // with n, but so does e^2a, which shrinks its effect on tanh faster.
    let shifted = _mm512_fmadd_ps(a, set(2.0 * LOG2_E), set(EXP_SHIFT));
    let n = _mm512_sub_ps(shifted, set(EXP_SHIFT));
    let h = _mm512_fnmadd_ps(n, set(LN_2 / 2.0), a);
    // w / 2 = h + h^2 q(h): `exp_parts`' polynomial in r = 2h, its coefficients scaled by
    // powers of 2 (exactly).
    let mut q = set(64.0 * EXP_P[0]);
    q = _mm512_fmadd_ps(q, h, set(32.0 * EXP_P[1]));
    q = _mm512_fmadd_ps(q, h, set(16.0 * EXP_P[2]));
    q = _mm512_fmadd_ps(q, h, set(8.0 * EXP_P[3]));
    q = _mm512_fmadd_ps(q, h, set(4.0 * EXP_P[4]));
    q = _mm512_fmadd_ps(q, h, set(2.0 * EXP_P[5]));
    let half_w = _mm512_fmadd_ps(q, _mm512_mul_ps(h, h), h);
    let scale = _mm512_scalef_ps(set(2.0), n); // 2^(n + 1), n in [0, 26]
    let m = _mm512_fmadd_ps(scale, half_w, _mm512_fmsub_ps(scale, set(0.5), set(1.0)));
    copysign(divide(m, _mm512_add_ps(m, set(2.0))), x)
}

/// Lane-wise `elementwise::sigmoid`: `e = e^-|x|`, then `1 / (1 + e)` or `e / (1 + e)`.
#[inline(always)]
unsafe fn sigmoid16(x: __m512) -> __m512 {
    let set = _mm512_set1_ps;
    // e^-104 is below half the smallest subnormal; NaN passes through `min` as in `tanh16`.
    let a = _mm512_min_ps(set(104.0), _mm512_abs_ps(x));
    let (w, n) = exp_parts(_mm512_sub_ps(_mm512_setzero_ps(), a));
    // `vscalefps` rounds once, so subnormal results (n down to -150) are right.
    let e = _mm512_scalef_ps(_mm512_add_ps(w, set(1.0)), n);
    let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps());
    let numerator = _mm512_mask_blend_ps(negative, set(1.0), e);
    divide(numerator, _mm512_add_ps(e, set(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    /// `kernel` over `xs`, or `None` on a CPU without AVX-512 (after checking that `map`
    /// says so and writes nothing).
    fn run(kernel: Kernel, xs: &[f32]) -> Option<Vec<f32>> {
        let mut out = vec![f32::NAN; xs.len()];
        let ran = map(kernel, xs, &mut out);
        assert_eq!(ran, available());
        assert!(ran || out.iter().all(|y| y.is_nan()));
        ran.then_some(out)
    }

    /// Every `stride`-th f32 bit pattern of both signs, including subnormals, infinities and
    /// NaNs.
    fn sweep(stride: u32) -> Vec<f32> {
        (0..=u32::MAX)
            .step_by(stride as usize)
            .map(f32::from_bits)
            .collect()
    }

    fn worst_ulps(kernel: Kernel, xs: &[f32], want: fn(f64) -> f64) -> u32 {
        let Some(got) = run(kernel, xs) else { return 0 };
        xs.iter()
            .zip(&got)
            .map(|(&x, &g)| ulps(g, want(x as f64) as f32))
            .max()
            .unwrap()
    }

    fn sigmoid_f64(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    }

    #[test]
    fn tanh_within_3_ulp_over_all_floats() {
        let worst = worst_ulps(Kernel::Tanh, &sweep(101), f64::tanh);
        assert!(worst <= 3, "worst error {worst} ulp");
        // Densely over [-0.1, 9.9], where the exponent n steps and the result nears 1.
        let dense: Vec<f32> = (0..2_000_000).map(|i| i as f32 * 5e-6 - 0.1).collect();
        let worst = worst_ulps(Kernel::Tanh, &dense, f64::tanh);
        assert!(worst <= 3, "worst error {worst} ulp");
    }

    #[test]
    fn sigmoid_within_3_ulp_over_all_floats() {
        let worst = worst_ulps(Kernel::Sigmoid, &sweep(101), sigmoid_f64);
        assert!(worst <= 3, "worst error {worst} ulp");
        // Densely down through the subnormal results.
        let dense: Vec<f32> = (0..2_000_000).map(|i| i as f32 * 6e-5 - 110.0).collect();
        let worst = worst_ulps(Kernel::Sigmoid, &dense, sigmoid_f64);
        assert!(worst <= 3, "worst error {worst} ulp");
    }

    #[test]
    fn silu_and_gelu_tanh_are_x_times_sigmoid() {
        let xs: Vec<f32> = (0..100_000).map(|i| i as f32 * 2e-3 - 100.0).collect();
        let Some(s) = run(Kernel::Sigmoid, &xs) else {
            return;
        };
        let silu = run(Kernel::Silu, &xs).unwrap();
        assert!(xs.iter().zip(&s).zip(&silu).all(|((x, s), y)| *y == x * s));
        let gelu = run(Kernel::GeluTanh, &xs).unwrap();
        for (&x, &y) in xs.iter().zip(&gelu) {
            let x = x as f64;
            let u = 1.595_769_121_605_731 * (x + 0.044715 * x * x * x);
            let want = x * sigmoid_f64(u);
            // `u` is rounded to f32, and sigmoid's tail e^u multiplies its error by |u|.
            let tolerance = 4.0 * f32::EPSILON as f64 * (1.0 + u.abs()) * want.abs();
            assert!((y as f64 - want).abs() <= tolerance + 1e-44, "x={x}");
        }
    }

    #[test]
    fn special_values() {
        let xs = [
            0.0,
            -0.0,
            1e-30,
            -1e-40,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e4,
            -1e4,
            -100.0,
        ];
        let Some(y) = run(Kernel::Tanh, &xs) else {
            return;
        };
        assert_eq!(y[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(y[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(&y[2..4], &[1e-30, -1e-40]);
        assert_eq!(&y[4..6], &[1.0, -1.0]);
        assert!(y[6].is_nan());
        assert_eq!(&y[7..], &[1.0, -1.0, -1.0]);
        let y = run(Kernel::Sigmoid, &xs).unwrap();
        assert_eq!(&y[..4], &[0.5, 0.5, 0.5, 0.5]);
        assert_eq!(&y[4..6], &[1.0, 0.0]);
        assert!(y[6].is_nan());
        assert_eq!(&y[7..9], &[1.0, 0.0]);
        assert!(y[9] > 0.0 && y[9] < 1e-40); // subnormal, not flushed
    }

    #[test]
    fn every_tail_length_is_written_and_nothing_past_it() {
        for n in 0..40 {
            let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.3 - 5.0).collect();
            let mut y = vec![f32::NAN; n + 1];
            if !map(Kernel::Tanh, &xs, &mut y[..n]) {
                return;
            }
            assert!(y[..n].iter().zip(&xs).all(|(y, x)| ulps(*y, x.tanh()) <= 3));
            assert!(y[n].is_nan());
        }
    }
}
