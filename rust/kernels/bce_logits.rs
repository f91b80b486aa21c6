//! Binary cross-entropy on logits, per element, forward and backward, in one pass each.
//!
//! With `z` the logit and `t` the target (a probability), the loss is
//! `max(z, 0) - z t + log1p(exp(-|z|))`, which is `-(t log sigmoid(z) + (1 - t) log(1 -
//! sigmoid(z)))` rearranged so that nothing overflows for any `z`. Its derivative is
//! `sigmoid(z) - t`. NumPy needs about eight passes over memory for the pair; these need one
//! each, vectorised.

use super::elementwise::vector;
use super::real::Real;
use crate::threading;

/// Elements per task below which a kernel runs on the calling thread.
const GRAIN: usize = 1 << 16;

/// `log(1 + e)` for `e` in `[0, 1]`, branch-free, without the cancellation of `ln(1 + e)`
/// for tiny `e`: with `s = e / (2 + e)` (at most 1/3), `log(1 + e) = 2 atanh(s) =
/// 2 s (1 + s^2/3 + s^4/5 + ...)`. The series is cut where its next term falls below the
/// type's rounding (`s^2 <= 1/9`): 9 terms for f32, 18 for f64.
#[inline(always)]
fn log1p_unit<T: Real>(e: T) -> T {
    let s = e / (T::from_f64(2.0) + e);
    let w = s * s;
    let terms: usize = if std::mem::size_of::<T>() == 4 { 9 } else { 18 };
    let mut p = T::ZERO;
    for k in (0..terms).rev() {
        p = p * w + T::from_f64(1.0 / (2 * k + 1) as f64);
    }
    T::from_f64(2.0) * s * p
}

#[inline(always)]
fn loss_one<T: Real>(z: T, t: T) -> T {
    let e = (-z.abs()).exp_fast();
    let relu = if z > T::ZERO { z } else { T::ZERO };
    // NaN in z: `relu` is 0 but `e`, and so the result, is NaN.
    relu - z * t + log1p_unit(e)
}

#[inline(always)]
fn sigmoid_minus<T: Real>(z: T, t: T) -> T {
    let e = (-z.abs()).exp_fast();
    let numerator = if z >= T::ZERO { T::ONE } else { e };
    numerator / (T::ONE + e) - t
}

fn check(op: &str, z: usize, others: &[(&str, usize)]) -> Result<(), String> {
    for (name, len) in others {
        if *len != z {
            return Err(format!(
                "{op}: {name} has {len} elements but the logits have {z}"
            ));
        }
    }
    Ok(())
}

/// `out[i] = max(z, 0) - z t + log1p(exp(-|z|))` for `z = logits[i]`, `t = target[i]`.
pub fn forward<T: Real>(logits: &[T], target: &[T], out: &mut [T]) -> Result<(), String> {
    check(
        "bce_with_logits",
        logits.len(),
        &[("target", target.len()), ("out", out.len())],
    )?;
    threading::for_each_chunk(out, GRAIN, |off, chunk| {
        let end = off + chunk.len();
        vector::map2(&logits[off..end], &target[off..end], chunk, loss_one);
    });
    Ok(())
}

/// `grad[i] = scale * (sigmoid(z) - t)`: the gradient when every element's upstream gradient
/// is the same (`mean` or `sum` reduction).
pub fn backward_scaled<T: Real>(
    logits: &[T],
    target: &[T],
    scale: T,
    grad: &mut [T],
) -> Result<(), String> {
    check(
        "bce_with_logits_backward",
        logits.len(),
        &[("target", target.len()), ("out", grad.len())],
    )?;
    threading::for_each_chunk(grad, GRAIN, |off, chunk| {
        let end = off + chunk.len();
        vector::map2(&logits[off..end], &target[off..end], chunk, |z, t| {
            scale * sigmoid_minus(z, t)
        });
    });
    Ok(())
}

/// `grad[i] = upstream[i] * (sigmoid(z) - t)`: the gradient of the unreduced losses.
pub fn backward<T: Real>(
    logits: &[T],
    target: &[T],
    upstream: &[T],
    grad: &mut [T],
) -> Result<(), String> {
    check(
        "bce_with_logits_backward",
        logits.len(),
        &[
            ("target", target.len()),
            ("grad", upstream.len()),
            ("out", grad.len()),
        ],
    )?;
    threading::for_each_chunk(grad, GRAIN, |off, chunk| {
        let end = off + chunk.len();
        vector::map3(
            &logits[off..end],
            &target[off..end],
            &upstream[off..end],
            chunk,
            |z, t, g| g * sigmoid_minus(z, t),
        );
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss in plain f64 with the C library's `ln_1p` and `exp`.
    fn naive(z: f64, t: f64) -> f64 {
        z.max(0.0) - z * t + (-z.abs()).exp().ln_1p()
    }

    fn grid() -> Vec<(f64, f64)> {
        let zs = [
            -800.0, -100.0, -30.0, -17.0, -5.5, -1.0, -1e-3, -1e-9, 0.0, 1e-9, 1e-3, 0.7, 3.0,
            17.0, 30.0, 100.0, 800.0,
        ];
        let ts = [0.0, 0.25, 1.0];
        zs.iter()
            .flat_map(|&z| ts.iter().map(move |&t| (z, t)))
            .collect()
    }

    #[test]
    fn log1p_unit_keeps_relative_precision() {
        for i in 0..=2000 {
            let e = if i == 0 {
                0.0
            } else {
                (i as f64 / 2000.0).powi(9)
            };
            let want = e.ln_1p();
            let got64 = log1p_unit(e);
            assert!((got64 - want).abs() <= 4.0 * f64::EPSILON * want, "{e}");
            let got32 = log1p_unit(e as f32) as f64;
            let want32 = (e as f32 as f64).ln_1p();
            assert!(
                (got32 - want32).abs() <= 4.0 * f32::EPSILON as f64 * want32,
                "{e}"
            );
        }
    }

    #[test]
    fn forward_matches_the_formula_in_f64_and_f32() {
        let (z, t): (Vec<f64>, Vec<f64>) = grid().into_iter().unzip();
        let mut out = vec![0.0; z.len()];
        forward(&z, &t, &mut out).unwrap();
        for i in 0..z.len() {
            let want = naive(z[i], t[i]);
            assert!(
                (out[i] - want).abs() <= 1e-14 * want.abs().max(1e-300),
                "{i}"
            );
        }
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let t32: Vec<f32> = t.iter().map(|&v| v as f32).collect();
        let mut out32 = vec![0.0f32; z.len()];
        forward(&z32, &t32, &mut out32).unwrap();
        for i in 0..z.len() {
            let want = naive(z32[i] as f64, t32[i] as f64);
            let tol = 1e-6 * (z32[i].abs() as f64).max(want.abs()).max(1e-30);
            assert!(
                (out32[i] as f64 - want).abs() <= tol,
                "{i}: {} {want}",
                out32[i]
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for (z, t) in grid() {
            if z.abs() > 50.0 {
                continue;
            }
            let h = 1e-6;
            let numeric = (naive(z + h, t) - naive(z - h, t)) / (2.0 * h);
            let mut g = [0.0];
            backward_scaled(&[z], &[t], 1.0, &mut g).unwrap();
            assert!((g[0] - numeric).abs() < 1e-8, "{z} {t}: {} {numeric}", g[0]);
            let mut g2 = [0.0];
            backward(&[z], &[t], &[3.0], &mut g2).unwrap();
            assert!((g2[0] - 3.0 * g[0]).abs() < 1e-15);
        }
    }

    #[test]
    fn extremes_are_finite_and_nan_propagates() {
        let z = [-1e30f32, 1e30, f32::NAN];
        let t = [0.0f32, 1.0, 0.5];
        let mut out = [0.0f32; 3];
        forward(&z, &t, &mut out).unwrap();
        // Confidently right: the loss is exp(-|z|), below the smallest subnormal or at it.
        assert!((0.0..1e-44).contains(&out[0]), "{}", out[0]);
        assert!((0.0..1e-44).contains(&out[1]), "{}", out[1]);
        assert!(out[2].is_nan());
        let mut g = [0.0f32; 3];
        backward_scaled(&z, &t, 1.0, &mut g).unwrap();
        assert!(g[0].abs() < 1e-44 && g[1].abs() < 1e-44, "{g:?}");
        assert!(g[2].is_nan());
    }

    #[test]
    fn long_inputs_split_across_threads_agree_with_short_ones() {
        let n = 3 * GRAIN + 17;
        let z: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 0.37).collect();
        let t: Vec<f32> = (0..n).map(|i| (i % 3) as f32 * 0.5).collect();
        let mut whole = vec![0.0f32; n];
        forward(&z, &t, &mut whole).unwrap();
        for i in (0..n).step_by(101) {
            let mut one = [0.0f32];
            forward(&z[i..i + 1], &t[i..i + 1], &mut one).unwrap();
            assert_eq!(whole[i], one[0]);
        }
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let mut out = [0.0f32; 2];
        let err = forward(&[1.0, 2.0], &[1.0], &mut out).unwrap_err();
        assert!(
            err.contains("target has 1 elements but the logits have 2"),
            "{err}"
        );
        assert!(backward(&[1.0, 2.0], &[1.0, 0.0], &[1.0], &mut out).is_err());
    }
}
