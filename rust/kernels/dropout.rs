//! Inverted dropout with a counter-based mask: `out = x * keep / (1 - p)`.
//!
//! Whether element `i` is kept is a pure function of `(seed, i)` (SplitMix64's finaliser, a
//! well-tested 64-bit hash, applied to `seed + i * golden_ratio`), so the mask never has to be
//! stored: the backward pass regenerates it from the seed, every thread computes its own chunk
//! independently, and the result does not depend on the number of threads.

use super::real::Real;
use crate::threading;

const GRAIN: usize = 1 << 16;

/// Options: drop probability and seed; `group` consecutive elements share one draw (1 for
/// element-wise dropout, `H * W` for whole feature maps as in `Dropout2d`).
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    pub p: f64,
    pub seed: u64,
    pub group: usize,
}

#[inline(always)]
fn hash(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Dropout {
    fn check(&self, op: &str) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(format!("{op}: p must be in [0, 1], got {}", self.p));
        }
        if self.group == 0 {
            return Err(format!("{op}: group must be positive"));
        }
        Ok(())
    }

    /// Draws are kept when their top 32 bits are at least `p * 2^32`: the keep probability
    /// is `1 - p` to within 2^-32.
    fn threshold(&self) -> u64 {
        (self.p * 4_294_967_296.0).ceil().min(4_294_967_296.0) as u64
    }

    fn scale(&self) -> f64 {
        if self.p < 1.0 {
            1.0 / (1.0 - self.p)
        } else {
            0.0
        }
    }
}

/// `out[i] = x[i] * mask(i)`, `mask` being 0 or `1/(1-p)`. The same call on the incoming
/// gradient is the backward pass.
pub fn apply<T: Real>(opts: Dropout, x: &[T], out: &mut [T]) -> Result<(), String> {
    opts.check("dropout")?;
    if x.len() != out.len() {
        return Err(format!(
            "dropout: out has {} elements but x has {}",
            out.len(),
            x.len()
        ));
    }
    let threshold = opts.threshold();
    let scale = T::from_f64(opts.scale());
    let (seed, group) = (opts.seed, opts.group);
    threading::for_each_chunk(out, GRAIN, |offset, chunk| {
        let src = &x[offset..offset + chunk.len()];
        if group == 1 {
            elementwise_mask(seed, threshold, scale, offset, src, chunk);
            return;
        }
        // One draw per group: walk the chunk group by group (no division per element).
        let mut start = 0;
        while start < chunk.len() {
            let index = offset + start;
            let end = ((index / group + 1) * group - offset).min(chunk.len());
            let keep = hash(seed, (index / group) as u64) >> 32 >= threshold;
            let factor = if keep { scale } else { T::ZERO };
            for (o, &v) in chunk[start..end].iter_mut().zip(&src[start..end]) {
                *o = v * factor;
            }
            start = end;
        }
    });
    Ok(())
}

/// The element-wise mask, compiled for AVX-512 when the CPU has it (its 64-bit vector
/// multiply lets the hash run 8 lanes at a time) or else for AVX2 (which has no 64-bit
/// multiply, but LLVM's three 32-bit multiplies per lane still ran 4x faster than the
/// baseline x86-64 build on a Zen 3 core). The hash is integer arithmetic, so every build
/// draws the same mask.
fn elementwise_mask<T: Real>(
    seed: u64,
    threshold: u64,
    scale: T,
    offset: usize,
    x: &[T],
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the CPU has the features `elementwise_mask_avx512` is compiled for.
            unsafe { elementwise_mask_avx512(seed, threshold, scale, offset, x, out) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the features `elementwise_mask_avx2` is compiled for.
            unsafe { elementwise_mask_avx2(seed, threshold, scale, offset, x, out) };
            return;
        }
    }
    elementwise_mask_body(seed, threshold, scale, offset, x, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn elementwise_mask_avx512<T: Real>(
    seed: u64,
    threshold: u64,
    scale: T,
    offset: usize,
    x: &[T],
    out: &mut [T],
) {
    elementwise_mask_body(seed, threshold, scale, offset, x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn elementwise_mask_avx2<T: Real>(
    seed: u64,
    threshold: u64,
    scale: T,
    offset: usize,
    x: &[T],
    out: &mut [T],
) {
    elementwise_mask_body(seed, threshold, scale, offset, x, out)
}

#[inline(always)]
fn elementwise_mask_body<T: Real>(
    seed: u64,
    threshold: u64,
    scale: T,
    offset: usize,
    x: &[T],
    out: &mut [T],
) {
    for (k, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let draw = hash(seed, (offset + k) as u64) >> 32;
        // A product even where dropped, as PyTorch's `x * mask`: a NaN or an infinity stays
        // NaN rather than vanishing from the activations (and from the gradient).
        *o = v * if draw >= threshold { scale } else { T::ZERO };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_rate_and_scale() {
        for p in [0.1, 0.5, 0.9] {
            let x = vec![1.0f32; 400_000];
            let mut y = vec![0.0f32; x.len()];
            let opts = Dropout {
                p,
                seed: 7,
                group: 1,
            };
            apply(opts, &x, &mut y).unwrap();
            let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / x.len() as f64;
            assert!((kept - (1.0 - p)).abs() < 0.004, "p={p}: kept {kept}");
            let want = (1.0 / (1.0 - p)) as f32;
            assert!(y.iter().all(|&v| v == 0.0 || v == want));
        }
    }

    #[test]
    fn every_instruction_set_draws_the_same_mask() {
        // The dispatched (vectorised) mask against the baseline build, at an odd offset and
        // length so the vector loops' tails run too.
        let x: Vec<f32> = (0..10_007).map(|i| i as f32 - 5000.0).collect();
        let (mut fast, mut plain) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
        for (seed, threshold) in [(7u64, 1u64 << 31), (u64::MAX, 123_456_789)] {
            elementwise_mask(seed, threshold, 2.0f32, 1_000_003, &x, &mut fast);
            elementwise_mask_body(seed, threshold, 2.0f32, 1_000_003, &x, &mut plain);
            assert_eq!(fast, plain);
        }
    }

    #[test]
    fn mask_is_a_function_of_seed_and_index() {
        let x: Vec<f64> = (0..200_000).map(|i| i as f64).collect();
        let opts = Dropout {
            p: 0.3,
            seed: 11,
            group: 1,
        };
        let mut a = vec![0.0; x.len()];
        let mut b = vec![0.0; x.len()];
        apply(opts, &x, &mut a).unwrap();
        let _resizing = crate::threading::RESIZING_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let threads = crate::threading::num_threads();
        crate::threading::set_num_threads(if threads == 1 { 2 } else { 1 }).unwrap();
        apply(opts, &x, &mut b).unwrap();
        crate::threading::set_num_threads(threads).unwrap();
        assert_eq!(a, b);
        let mut c = vec![0.0; x.len()];
        apply(Dropout { seed: 12, ..opts }, &x, &mut c).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn dropped_nan_and_infinity_stay_nan_as_products() {
        // x * mask, as PyTorch: NaN * 0 and inf * 0 are NaN, so bad values are not hidden.
        for group in [1, 4] {
            let x = [f64::NAN, f64::INFINITY, -1.0, 2.0].repeat(64);
            let mut y = vec![0.0; x.len()];
            apply(
                Dropout {
                    p: 0.5,
                    seed: 11,
                    group,
                },
                &x,
                &mut y,
            )
            .unwrap();
            let dropped = y
                .iter()
                .zip(&x)
                .filter(|(y, x)| x.is_finite() && **y == 0.0);
            assert!(dropped.count() > 0, "some finite values were dropped");
            for (&y, &x) in y.iter().zip(&x) {
                match x {
                    x if x.is_nan() => assert!(y.is_nan()),
                    x if x.is_infinite() => assert!(y.is_nan() || y == x),
                    x => assert!(y == 0.0 || y == 2.0 * x),
                }
            }
            let infs = y.iter().zip(&x).filter(|(_, x)| x.is_infinite());
            assert!(
                infs.clone().any(|(y, _)| y.is_nan()),
                "a dropped inf is NaN"
            );
            assert!(
                infs.clone().any(|(y, _)| y.is_infinite()),
                "a kept inf stays inf"
            );
        }
    }

    #[test]
    fn groups_share_one_draw_and_edges() {
        let x = vec![1.0f32; 64 * 9];
        let mut y = vec![0.0f32; x.len()];
        let opts = Dropout {
            p: 0.5,
            seed: 3,
            group: 9,
        };
        apply(opts, &x, &mut y).unwrap();
        for block in y.chunks(9) {
            assert!(block.iter().all(|&v| v == block[0]));
        }
        apply(Dropout { p: 1.0, ..opts }, &x, &mut y).unwrap();
        assert!(y.iter().all(|&v| v == 0.0));
        apply(Dropout { p: 0.0, ..opts }, &x, &mut y).unwrap();
        assert!(y.iter().all(|&v| v == 1.0));
        assert!(apply(Dropout { p: 1.5, ..opts }, &x, &mut y).is_err());
        assert!(apply(Dropout { group: 0, ..opts }, &x, &mut y).is_err());
    }
}
