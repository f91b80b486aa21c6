//! Batch normalisation over `(N, C, S)` data (`S` = the product of the spatial dimensions):
//! per-channel statistics, the normalising affine map, and the backward pass.
//!
//! Channel `c` of sample `n` is the contiguous block `x[(n*C + c)*S ..][..S]`. Sums run in
//! f64 whatever the element type, so float32 statistics over millions of values stay exact to
//! float32 round-off. Each function reads the data at most twice; the backward pass needs only
//! `x`, the per-channel mean and `1/sqrt(var + eps)` (no saved normalised copy).

use super::real::Real;
use crate::threading;

/// Elements of work below which a kernel stays on the calling thread.
const GRAIN: usize = 1 << 16;

/// Layout of the data: `batch` samples of `channels` blocks of `spatial` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchNormShape {
    pub batch: usize,
    pub channels: usize,
    pub spatial: usize,
}

impl BatchNormShape {
    /// Total number of elements.
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.spatial
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per channel, over which the statistics are taken.
    pub fn per_channel(&self) -> usize {
        self.batch * self.spatial
    }

    fn check(&self, op: &str, name: &str, len: usize, want: usize) -> Result<(), String> {
        if len != want {
            return Err(format!(
                "{op}: {name} has {len} elements but the shape (N={}, C={}, S={}) needs {want}",
                self.batch, self.channels, self.spatial
            ));
        }
        Ok(())
    }

    /// Channels per parallel task, so that a task covers about `GRAIN` elements.
    fn channel_grain(&self) -> usize {
        (GRAIN / self.per_channel().max(1)).max(1)
    }

    /// The blocks of channel `c`, one per sample.
    fn blocks<'a, T>(&self, data: &'a [T], c: usize) -> impl Iterator<Item = &'a [T]> + 'a {
        let (channels, spatial) = (self.channels, self.spatial);
        (0..self.batch).map(move |n| {
            let start = (n * channels + c) * spatial;
            &data[start..start + spatial]
        })
    }
}

/// Apply `f(channel, chunk_of_out, offset)` to `out` split at channel-block boundaries, in
/// parallel chunks; `offset` is the index of the chunk's first element.
fn for_each_block<T: Send>(
    shape: BatchNormShape,
    out: &mut [T],
    f: impl Fn(usize, &mut [T], usize) + Sync,
) {
    let spatial = shape.spatial.max(1);
    let channels = shape.channels.max(1);
    // Whole blocks per task keep every task's channel bookkeeping simple.
    let grain = GRAIN.div_ceil(spatial).max(1) * spatial;
    threading::for_each_chunk(out, grain, |offset, chunk| {
        let mut start = 0;
        while start < chunk.len() {
            let index = offset + start;
            let block_end = (index / spatial + 1) * spatial - offset;
            let end = block_end.min(chunk.len());
            f((index / spatial) % channels, &mut chunk[start..end], index);
            start = end;
        }
    });
}

/// Per-channel mean and biased variance of `x` (two passes: the variance is the mean of
/// squared deviations from the mean, which does not cancel the way `E[x^2] - E[x]^2` does).
pub fn stats<T: Real>(
    shape: BatchNormShape,
    x: &[T],
    mean: &mut [T],
    var: &mut [T],
) -> Result<(), String> {
    const OP: &str = "batch_norm_stats";
    shape.check(OP, "x", x.len(), shape.len())?;
    shape.check(OP, "mean", mean.len(), shape.channels)?;
    shape.check(OP, "var", var.len(), shape.channels)?;
    if shape.per_channel() == 0 {
        return Err(format!(
            "{OP}: no values per channel (N={}, S={})",
            shape.batch, shape.spatial
        ));
    }
    let count = shape.per_channel() as f64;
    let mut moments = vec![(0.0f64, 0.0f64); shape.channels];
    threading::for_each_chunk(&mut moments, shape.channel_grain(), |c0, chunk| {
        for (k, slot) in chunk.iter_mut().enumerate() {
            let c = c0 + k;
            let total: f64 = shape.blocks(x, c).map(|b| sum_lanes(b, |v| v)).sum();
            let m = total / count;
            let squares: f64 = shape
                .blocks(x, c)
                .map(|b| {
                    sum_lanes(b, |v| {
                        let d = v - m;
                        d * d
                    })
                })
                .sum();
            *slot = (m, squares / count);
        }
    });
    for (c, (m, v)) in moments.into_iter().enumerate() {
        mean[c] = T::from_f64(m);
        var[c] = T::from_f64(v);
    }
    Ok(())
}

/// Independent partial sums: a single running sum is one long chain of dependent additions
/// (latency-bound, and LLVM may not reorder float additions to vectorise it); eight
/// accumulators let the additions overlap and compile to SIMD.
const LANES: usize = 8;

/// `sum(f(v as f64))` over `block`.
#[inline(always)]
fn sum_lanes<T: Real>(block: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = block.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for j in 0..LANES {
            acc[j] += f(chunk[j].to_f64());
        }
    }
    let mut total: f64 = acc.iter().sum();
    for &v in rest {
        total += f(v.to_f64());
    }
    total
}

/// `dot_lanes`, compiled for AVX2 when the CPU has it: baseline x86-64 has 2-wide f64 SIMD
/// and no packed float-to-double conversion wider than 2.
fn dot<T: Real>(a: &[T], b: &[T], shift: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features `dot_avx2` is compiled for.
            return unsafe { dot_avx2(a, b, shift) };
        }
    }
    dot_lanes(a, b, shift)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2<T: Real>(a: &[T], b: &[T], shift: f64) -> f64 {
    dot_lanes(a, b, shift)
}

/// `sum(a * (b - shift))` over paired blocks, in f64 lanes. (One accumulator set per loop:
/// with two, LLVM pairs the sets instead of vectorising each.)
#[inline(always)]
fn dot_lanes<T: Real>(a: &[T], b: &[T], shift: f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let n = a.len().min(b.len());
    let split = n - n % LANES;
    for (ca, cb) in a[..split]
        .chunks_exact(LANES)
        .zip(b[..split].chunks_exact(LANES))
    {
        let ca: &[T; LANES] = ca.try_into().expect("chunks_exact gives LANES items");
        let cb: &[T; LANES] = cb.try_into().expect("chunks_exact gives LANES items");
        for j in 0..LANES {
            acc[j] += ca[j].to_f64() * (cb[j].to_f64() - shift);
        }
    }
    let mut total: f64 = acc.iter().sum();
    for i in split..n {
        total += a[i].to_f64() * (b[i].to_f64() - shift);
    }
    total
}

/// `out = (x - mean[c]) * inv_std[c] * weight[c] + bias[c]` (weight 1 and bias 0 when absent).
pub fn forward<T: Real>(
    shape: BatchNormShape,
    x: &[T],
    mean: &[T],
    inv_std: &[T],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    out: &mut [T],
) -> Result<(), String> {
    const OP: &str = "batch_norm_forward";
    shape.check(OP, "x", x.len(), shape.len())?;
    shape.check(OP, "out", out.len(), shape.len())?;
    for (name, v) in [
        ("mean", Some(mean)),
        ("inv_std", Some(inv_std)),
        ("weight", weight),
    ]
    .into_iter()
    .chain([("bias", bias)])
    {
        if let Some(v) = v {
            shape.check(OP, name, v.len(), shape.channels)?;
        }
    }
    // y = (x - mean) * scale + bias. Folding the mean into the shift (x * scale + shift)
    // would save a subtraction but lose float32 digits when |mean| >> std.
    let scale: Vec<T> = (0..shape.channels)
        .map(|c| inv_std[c] * weight.map_or(T::ONE, |w| w[c]))
        .collect();
    for_each_block(shape, out, |c, chunk, offset| {
        let (m, s, t) = (mean[c], scale[c], bias.map_or(T::ZERO, |b| b[c]));
        let src = &x[offset..offset + chunk.len()];
        for (o, &v) in chunk.iter_mut().zip(src) {
            *o = (v - m) * s + t;
        }
    });
    Ok(())
}

/// Per-channel `(sum(g), sum(g * x_hat))`, `x_hat = (x - mean) * inv_std`: the bias and weight
/// gradients, and the two corrections of the input gradient in training mode.
fn gradient_sums<T: Real>(
    shape: BatchNormShape,
    x: &[T],
    grad: &[T],
    mean: &[T],
    inv_std: &[T],
) -> Vec<(f64, f64)> {
    let mut sums = vec![(0.0f64, 0.0f64); shape.channels];
    threading::for_each_chunk(&mut sums, shape.channel_grain(), |c0, chunk| {
        for (k, slot) in chunk.iter_mut().enumerate() {
            let c = c0 + k;
            let (m, s) = (mean[c].to_f64(), inv_std[c].to_f64());
            let (mut sum_g, mut sum_gx) = (0.0f64, 0.0f64);
            for (xb, gb) in shape.blocks(x, c).zip(shape.blocks(grad, c)) {
                // The second pass over a block finds it in L1.
                sum_g += sum_lanes(gb, |v| v);
                sum_gx += dot(gb, xb, m);
            }
            *slot = (sum_g, sum_gx * s);
        }
    });
    sums
}

/// Gradients of batch normalisation.
///
/// With `g` the incoming gradient and `x_hat = (x - mean) * inv_std`:
/// `dbias = sum(g)`, `dweight = sum(g * x_hat)`, and, when the statistics were the batch's
/// own (`batch_stats`), `dx = weight * inv_std * (g - sum(g)/M - x_hat * sum(g x_hat)/M)`
/// (`M` values per channel); with fixed running statistics `dx = weight * inv_std * g`.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Real>(
    shape: BatchNormShape,
    x: &[T],
    grad: &[T],
    mean: &[T],
    inv_std: &[T],
    weight: Option<&[T]>,
    batch_stats: bool,
    dx: &mut [T],
    dweight: &mut [T],
    dbias: &mut [T],
) -> Result<(), String> {
    const OP: &str = "batch_norm_backward";
    for (name, len, want) in [
        ("x", x.len(), shape.len()),
        ("grad", grad.len(), shape.len()),
        ("dx", dx.len(), shape.len()),
        ("mean", mean.len(), shape.channels),
        ("inv_std", inv_std.len(), shape.channels),
        ("dweight", dweight.len(), shape.channels),
        ("dbias", dbias.len(), shape.channels),
    ] {
        shape.check(OP, name, len, want)?;
    }
    if let Some(w) = weight {
        shape.check(OP, "weight", w.len(), shape.channels)?;
    }
    let sums = gradient_sums(shape, x, grad, mean, inv_std);
    for (c, &(sum_g, sum_gx)) in sums.iter().enumerate() {
        dbias[c] = T::from_f64(sum_g);
        dweight[c] = T::from_f64(sum_gx);
    }
    let count = shape.per_channel().max(1) as f64;
    // dx = k g + b (x - mean) + d per channel, the batch-statistics form expanded: with
    // k = weight * inv_std, b = -k inv_std mean(g x_hat) and d = -k mean(g).
    let coefficients: Vec<(T, T, T)> = (0..shape.channels)
        .map(|c| {
            let s = inv_std[c].to_f64();
            let k = s * weight.map_or(1.0, |w| w[c].to_f64());
            if batch_stats {
                let (sum_g, sum_gx) = sums[c];
                let b = -k * s * sum_gx / count;
                let d = -k * sum_g / count;
                (T::from_f64(k), T::from_f64(b), T::from_f64(d))
            } else {
                (T::from_f64(k), T::ZERO, T::ZERO)
            }
        })
        .collect();
    for_each_block(shape, dx, |c, chunk, offset| {
        let (k, b, d, m) = (
            coefficients[c].0,
            coefficients[c].1,
            coefficients[c].2,
            mean[c],
        );
        let end = offset + chunk.len();
        let (xs, gs) = (&x[offset..end], &grad[offset..end]);
        for ((o, &xv), &gv) in chunk.iter_mut().zip(xs).zip(gs) {
            *o = k * gv + b * (xv - m) + d;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.random::<f64>() * 4.0 - 1.0).collect()
    }

    fn naive_stats(shape: BatchNormShape, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut mean = vec![0.0; shape.channels];
        let mut var = vec![0.0; shape.channels];
        let m = shape.per_channel() as f64;
        for n in 0..shape.batch {
            for c in 0..shape.channels {
                for s in 0..shape.spatial {
                    mean[c] += x[(n * shape.channels + c) * shape.spatial + s] / m;
                }
            }
        }
        for n in 0..shape.batch {
            for c in 0..shape.channels {
                for s in 0..shape.spatial {
                    let d = x[(n * shape.channels + c) * shape.spatial + s] - mean[c];
                    var[c] += d * d / m;
                }
            }
        }
        (mean, var)
    }

    const SHAPES: [BatchNormShape; 3] = [
        BatchNormShape {
            batch: 5,
            channels: 3,
            spatial: 1,
        },
        BatchNormShape {
            batch: 2,
            channels: 4,
            spatial: 7,
        },
        // Large enough to run in parallel, with blocks that straddle task boundaries.
        BatchNormShape {
            batch: 3,
            channels: 5,
            spatial: 10_007,
        },
    ];

    #[test]
    fn stats_match_naive_loops() {
        for shape in SHAPES {
            let x = random(shape.len(), 1);
            let (mut mean, mut var) = (vec![0.0; shape.channels], vec![0.0; shape.channels]);
            stats(shape, &x, &mut mean, &mut var).unwrap();
            let (m, v) = naive_stats(shape, &x);
            for c in 0..shape.channels {
                assert!((mean[c] - m[c]).abs() < 1e-12 && (var[c] - v[c]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn forward_and_backward_match_the_formulas() {
        for shape in SHAPES {
            let x = random(shape.len(), 2);
            let g = random(shape.len(), 3);
            let w = random(shape.channels, 4);
            let b = random(shape.channels, 5);
            let (mean, var) = naive_stats(shape, &x);
            let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
            let mut y = vec![0.0; shape.len()];
            forward(shape, &x, &mean, &inv_std, Some(&w), Some(&b), &mut y).unwrap();
            let mut dx = vec![0.0; shape.len()];
            let (mut dw, mut db) = (vec![0.0; shape.channels], vec![0.0; shape.channels]);
            backward(
                shape,
                &x,
                &g,
                &mean,
                &inv_std,
                Some(&w),
                true,
                &mut dx,
                &mut dw,
                &mut db,
            )
            .unwrap();
            let m = shape.per_channel() as f64;
            let (mut sum_g, mut sum_gx) = (vec![0.0; shape.channels], vec![0.0; shape.channels]);
            for i in 0..shape.len() {
                let c = (i / shape.spatial) % shape.channels;
                let x_hat = (x[i] - mean[c]) * inv_std[c];
                assert!((y[i] - (x_hat * w[c] + b[c])).abs() < 1e-12);
                sum_g[c] += g[i];
                sum_gx[c] += g[i] * x_hat;
            }
            for i in 0..shape.len() {
                let c = (i / shape.spatial) % shape.channels;
                let x_hat = (x[i] - mean[c]) * inv_std[c];
                let want = w[c] * inv_std[c] * (g[i] - sum_g[c] / m - x_hat * sum_gx[c] / m);
                assert!((dx[i] - want).abs() < 1e-10, "{shape:?} at {i}");
            }
            for c in 0..shape.channels {
                assert!((db[c] - sum_g[c]).abs() < 1e-9 && (dw[c] - sum_gx[c]).abs() < 1e-9);
            }
            // Fixed statistics: the input gradient is only rescaled.
            backward(
                shape, &x, &g, &mean, &inv_std, None, false, &mut dx, &mut dw, &mut db,
            )
            .unwrap();
            for i in 0..shape.len() {
                let c = (i / shape.spatial) % shape.channels;
                assert!((dx[i] - g[i] * inv_std[c]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn float32_statistics_are_accurate_over_many_values() {
        let shape = BatchNormShape {
            batch: 64,
            channels: 2,
            spatial: 4096,
        };
        // A large offset would ruin a float32 running sum or E[x^2] - E[x]^2.
        let x: Vec<f32> = random(shape.len(), 6)
            .iter()
            .map(|v| (1000.0 + v) as f32)
            .collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let (mut mean, mut var) = (vec![0.0f32; 2], vec![0.0f32; 2]);
        stats(shape, &x, &mut mean, &mut var).unwrap();
        let (m, v) = naive_stats(shape, &x64);
        for c in 0..2 {
            assert!(((mean[c] as f64 - m[c]) / m[c]).abs() < 1e-7);
            assert!(((var[c] as f64 - v[c]) / v[c]).abs() < 1e-6);
        }
    }

    #[test]
    fn length_errors() {
        let shape = BatchNormShape {
            batch: 2,
            channels: 3,
            spatial: 4,
        };
        let x = vec![0.0f32; 24];
        let (mut m, mut v) = (vec![0.0f32; 2], vec![0.0f32; 3]);
        assert!(stats(shape, &x, &mut m, &mut v)
            .unwrap_err()
            .contains("mean has 2 elements"));
        let empty = BatchNormShape {
            batch: 0,
            channels: 3,
            spatial: 4,
        };
        let mut m = vec![0.0f32; 3];
        assert!(stats(empty, &[], &mut m, &mut v).is_err());
    }
}
