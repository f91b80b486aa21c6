//! Row-wise softmax / log-softmax and the fused, numerically stable softmax cross-entropy.
//!
//! Every row is shifted by its maximum before exponentiating (the log-sum-exp trick), so no
//! logit is too large or too small.

use super::elementwise::vector;
use super::real::Real;
use crate::threading;

/// Shape of a batch of rows: `rows x cols`, row-major.
#[derive(Clone, Copy, Debug)]
pub struct Rows {
    pub rows: usize,
    pub cols: usize,
}

/// Rows per task below which work stays on the calling thread (in elements: rows * cols).
const GRAIN: usize = 1 << 15;

impl Rows {
    fn check(&self, op: &str, name: &str, len: usize) -> Result<(), String> {
        if self.rows * self.cols != len {
            return Err(format!(
                "{op}: {name} has {len} elements but the shape ({}, {}) needs {}",
                self.rows,
                self.cols,
                self.rows * self.cols
            ));
        }
        Ok(())
    }

    fn rows_per_task(&self) -> usize {
        (GRAIN / self.cols.max(1)).max(1)
    }
}

/// Lanes of the row reductions: independent accumulators let the loop run at SIMD width
/// instead of waiting on one running maximum or sum.
const LANES: usize = 16;

fn row_max<T: Real>(x: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            lanes[k] = lanes[k].max_nan(c[k]);
        }
    }
    let mut max = rest.iter().fold(T::NEG_INFINITY, |m, &v| m.max_nan(v));
    for lane in lanes {
        max = max.max_nan(lane);
    }
    max
}

fn row_sum<T: Real>(x: &[T]) -> T {
    let mut lanes = [T::ZERO; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            lanes[k] += c[k];
        }
    }
    lanes.iter().chain(rest).fold(T::ZERO, |s, &v| s + v)
}

/// `out = exp(x - max(x))` (the vectorised `exp_fast`), returning `max(x)`; `None` for a
/// row that is all -inf (it has no defined distribution: `out` is NaN, as in NumPy).
fn shifted_exp_row<T: Real>(x: &[T], out: &mut [T]) -> Option<T> {
    let max = row_max(x);
    if max == T::NEG_INFINITY {
        out.iter_mut().for_each(|o| *o = T::from_f64(f64::NAN));
        return None;
    }
    vector::map(x, out, |v| (v - max).exp_fast());
    Some(max)
}

fn log_softmax_row<T: Real>(x: &[T], out: &mut [T]) {
    let Some(max) = shifted_exp_row(x, out) else {
        return;
    };
    // (v - max) - ln(sum), not v - (max + ln(sum)): the latter rounds ln(sum) to the spacing
    // of max, losing every digit of a log-probability below it when logits are far from 0.
    let log_sum = row_sum(out).ln();
    vector::map(x, out, |v| (v - max) - log_sum);
}

fn softmax_row<T: Real>(x: &[T], out: &mut [T]) {
    if shifted_exp_row(x, out).is_none() {
        return;
    }
    let inv_sum = T::ONE / row_sum(out);
    for o in out.iter_mut() {
        *o *= inv_sum;
    }
}

/// Apply `row_fn` to every row of `x` into `out`, rows split across threads.
fn by_rows<T: Real>(shape: Rows, x: &[T], out: &mut [T], row_fn: fn(&[T], &mut [T])) {
    let cols = shape.cols;
    threading::for_each_rows(out, cols, shape.rows_per_task() * cols, |off, chunk| {
        for (r, o) in chunk.chunks_mut(cols).enumerate() {
            let start = off + r * cols;
            row_fn(&x[start..start + cols], o);
        }
    });
}

/// `out = log_softmax(x)` along each row.
pub fn log_softmax<T: Real>(shape: Rows, x: &[T], out: &mut [T]) -> Result<(), String> {
    shape.check("log_softmax", "x", x.len())?;
    shape.check("log_softmax", "out", out.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    by_rows(shape, x, out, log_softmax_row);
    Ok(())
}

/// `out = softmax(x)` along each row.
pub fn softmax<T: Real>(shape: Rows, x: &[T], out: &mut [T]) -> Result<(), String> {
    shape.check("softmax", "x", x.len())?;
    shape.check("softmax", "out", out.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    by_rows(shape, x, out, softmax_row);
    Ok(())
}

/// Options of the fused cross-entropy.
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropy {
    /// Rows whose label equals this contribute neither loss nor gradient.
    pub ignore_index: Option<i64>,
}

fn check_label(label: i64, cols: usize, row: usize, ignore: Option<i64>) -> Result<bool, String> {
    if Some(label) == ignore {
        return Ok(false);
    }
    if label < 0 || label as usize >= cols {
        return Err(format!(
            "cross_entropy: label {label} at position {row} is out of range for {cols} classes \
             (expected 0 <= label < {cols})"
        ));
    }
    Ok(true)
}

/// Per-row losses `-log_softmax(logits)[i, labels[i]]`; also writes the log-probabilities,
/// which the backward pass reuses. Ignored rows get loss 0.
pub fn cross_entropy_forward<T: Real>(
    opts: CrossEntropy,
    shape: Rows,
    logits: &[T],
    labels: &[i64],
    log_probs: &mut [T],
    losses: &mut [T],
) -> Result<(), String> {
    if labels.len() != shape.rows || losses.len() != shape.rows {
        return Err(format!(
            "cross_entropy: {} labels for {} rows of logits; expected one label per row",
            labels.len(),
            shape.rows
        ));
    }
    for (row, &label) in labels.iter().enumerate() {
        check_label(label, shape.cols, row, opts.ignore_index)?;
    }
    log_softmax(shape, logits, log_probs)?;
    for (row, (&label, loss)) in labels.iter().zip(losses.iter_mut()).enumerate() {
        *loss = if Some(label) == opts.ignore_index {
            T::ZERO
        } else {
            -log_probs[row * shape.cols + label as usize]
        };
    }
    Ok(())
}

/// `dlogits[i, :] = grad[i] * (softmax(logits)[i, :] - onehot(labels[i]))`, from the saved
/// log-probabilities. Ignored rows get a zero gradient.
pub fn cross_entropy_backward<T: Real>(
    opts: CrossEntropy,
    shape: Rows,
    log_probs: &[T],
    labels: &[i64],
    grad: &[T],
    dlogits: &mut [T],
) -> Result<(), String> {
    shape.check("cross_entropy backward", "log_probs", log_probs.len())?;
    shape.check("cross_entropy backward", "out", dlogits.len())?;
    if labels.len() != shape.rows || grad.len() != shape.rows {
        return Err(format!(
            "cross_entropy backward: {} labels and {} gradients for {} rows",
            labels.len(),
            grad.len(),
            shape.rows
        ));
    }
    for (row, &label) in labels.iter().enumerate() {
        check_label(label, shape.cols, row, opts.ignore_index)?;
    }
    let cols = shape.cols;
    if cols == 0 {
        return Ok(());
    }
    threading::for_each_rows(dlogits, cols, shape.rows_per_task() * cols, |off, chunk| {
        for (r, out) in chunk.chunks_mut(cols).enumerate() {
            let row = off / cols + r;
            let label = labels[row];
            if Some(label) == opts.ignore_index {
                out.iter_mut().for_each(|o| *o = T::ZERO);
                continue;
            }
            let g = grad[row];
            let lp = &log_probs[row * cols..(row + 1) * cols];
            vector::map(lp, out, |l| g * l.exp_fast());
            out[label as usize] -= g;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss_of(logits: &[f64], labels: &[i64], cols: usize) -> f64 {
        let shape = Rows {
            rows: labels.len(),
            cols,
        };
        let mut lp = vec![0.0; logits.len()];
        let mut losses = vec![0.0; labels.len()];
        cross_entropy_forward(
            CrossEntropy { ignore_index: None },
            shape,
            logits,
            labels,
            &mut lp,
            &mut losses,
        )
        .unwrap();
        losses.iter().sum()
    }

    #[test]
    fn many_rows_of_odd_width_split_across_threads_stay_whole() {
        // Row counts and widths whose task grain is not an even number of rows: chunks
        // used to cut rows in two when the work was split across threads.
        for (rows, cols) in [(8000, 5), (12345, 6), (9001, 7)] {
            let x: Vec<f64> = (0..rows * cols)
                .map(|i| ((i * 37) % 101) as f64 / 10.0)
                .collect();
            let shape = Rows { rows, cols };
            let (mut sm, mut lsm) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            softmax(shape, &x, &mut sm).unwrap();
            log_softmax(shape, &x, &mut lsm).unwrap();
            let labels: Vec<i64> = (0..rows as i64).map(|r| r % cols as i64).collect();
            let mut losses = vec![0.0; rows];
            let mut lp = vec![0.0; x.len()];
            let opts = CrossEntropy { ignore_index: None };
            cross_entropy_forward(opts, shape, &x, &labels, &mut lp, &mut losses).unwrap();
            let mut d = vec![0.0; x.len()];
            cross_entropy_backward(opts, shape, &lp, &labels, &vec![1.0; rows], &mut d).unwrap();
            for (r, row) in x.chunks(cols).enumerate() {
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = row.iter().map(|v| (v - max).exp()).sum();
                for (j, v) in row.iter().enumerate() {
                    let want = (v - max).exp() / total;
                    let at = r * cols + j;
                    assert!(
                        (sm[at] - want).abs() < 1e-12,
                        "softmax {rows}x{cols} at {r}"
                    );
                    assert!((lsm[at] - want.ln()).abs() < 1e-12, "log_softmax at {r}");
                    let onehot = if j as i64 == labels[r] { 1.0 } else { 0.0 };
                    assert!((d[at] - (want - onehot)).abs() < 1e-12, "dlogits at {r}");
                }
            }
        }
    }

    #[test]
    fn logits_far_from_zero_keep_their_precision() {
        let near = [0.0f32, 5.0, 2.5];
        let far: Vec<f32> = near.iter().map(|v| v + 1e6).collect();
        let (mut a, mut b) = ([0.0f32; 3], [0.0f32; 3]);
        let shape = Rows { rows: 1, cols: 3 };
        log_softmax(shape, &near, &mut a).unwrap();
        log_softmax(shape, &far, &mut b).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let logits: Vec<f64> = (0..12)
            .map(|i| ((i * 7) % 5) as f64 - 2.0 + i as f64 * 0.1)
            .collect();
        let labels = [2i64, 0, 3];
        let shape = Rows { rows: 3, cols: 4 };
        let mut lp = vec![0.0; 12];
        let mut losses = vec![0.0; 3];
        let opts = CrossEntropy { ignore_index: None };
        cross_entropy_forward(opts, shape, &logits, &labels, &mut lp, &mut losses).unwrap();
        let mut d = vec![0.0; 12];
        cross_entropy_backward(opts, shape, &lp, &labels, &[1.0; 3], &mut d).unwrap();
        for i in 0..12 {
            let mut hi = logits.clone();
            let mut lo = logits.clone();
            hi[i] += 1e-6;
            lo[i] -= 1e-6;
            let numeric = (loss_of(&hi, &labels, 4) - loss_of(&lo, &labels, 4)) / 2e-6;
            assert!((numeric - d[i]).abs() < 1e-6);
        }
    }

    #[test]
    fn huge_logits_are_stable() {
        let logits = [1000.0f32, -1000.0, 0.0];
        let mut out = [0.0f32; 3];
        softmax(Rows { rows: 1, cols: 3 }, &logits, &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn rows_of_every_width_match_the_naive_formula() {
        // Widths around the reduction lanes (and their remainders), and a wide row.
        for cols in [1usize, 2, 15, 16, 17, 33, 1000] {
            let rows = 3;
            let x: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.13)
                .collect();
            let shape = Rows { rows, cols };
            let (mut sm, mut lsm) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            softmax(shape, &x, &mut sm).unwrap();
            log_softmax(shape, &x, &mut lsm).unwrap();
            for r in 0..rows {
                let row = &x[r * cols..(r + 1) * cols];
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
                for c in 0..cols {
                    let want_log = (x[r * cols + c] as f64 - max) - sum.ln();
                    let got_log = lsm[r * cols + c] as f64;
                    assert!((got_log - want_log).abs() < 1e-5 * want_log.abs().max(1.0));
                    let got = sm[r * cols + c] as f64;
                    assert!((got - want_log.exp()).abs() < 1e-6 * want_log.exp().max(1e-30));
                }
            }
        }
        let masked = [0.0f32, f32::NEG_INFINITY, 1.0];
        let mut out = [1.0f32; 3];
        softmax(Rows { rows: 1, cols: 3 }, &masked, &mut out).unwrap();
        assert_eq!(out[1], 0.0);
        let mut nan = [0.0f32; 3];
        softmax(Rows { rows: 1, cols: 3 }, &[0.0, f32::NAN, 1.0], &mut nan).unwrap();
        assert!(nan.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn out_of_range_label_is_an_error() {
        let mut lp = [0.0f32; 4];
        let mut losses = [0.0f32; 2];
        let err = cross_entropy_forward(
            CrossEntropy { ignore_index: None },
            Rows { rows: 2, cols: 2 },
            &[0.0; 4],
            &[0, 5],
            &mut lp,
            &mut losses,
        )
        .unwrap_err();
        assert!(err.contains("label 5"));
    }

    #[test]
    fn ignored_rows_contribute_nothing() {
        let mut lp = [0.0f64; 4];
        let mut losses = [9.0f64; 2];
        let opts = CrossEntropy {
            ignore_index: Some(-100),
        };
        let shape = Rows { rows: 2, cols: 2 };
        cross_entropy_forward(
            opts,
            shape,
            &[1.0, 2.0, 3.0, 4.0],
            &[1, -100],
            &mut lp,
            &mut losses,
        )
        .unwrap();
        assert_eq!(losses[1], 0.0);
        let mut d = [1.0f64; 4];
        cross_entropy_backward(opts, shape, &lp, &[1, -100], &[1.0, 1.0], &mut d).unwrap();
        assert_eq!(&d[2..], &[0.0, 0.0]);
    }
}
