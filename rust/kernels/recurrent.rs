//! Fused LSTM and GRU cell arithmetic, forward and backward: everything in one time step of a
//! recurrent layer except its two matrix products. Composed of separate tensor ops, a step is
//! a dozen graph nodes (slices, sigmoids, tanhs, products, sums) each with its own pass over
//! memory and its own Python overhead; fused, it is one pass per direction.
//!
//! Arrays are row-major: `rows` samples of `hidden` units, gates side by side in PyTorch's
//! order (LSTM `i, f, g, o` in `rows x 4H`; GRU `r, z, n` in `rows x 3H`).

use super::elementwise::sigmoid;
use super::real::Real;
use super::simd;
use crate::threading;

/// Elements of gate arrays below which a call runs on one thread.
const GRAIN: usize = 1 << 15;

fn check(
    op: &str,
    rows: usize,
    hidden: usize,
    arrays: &[(&str, usize, usize)],
) -> Result<(), String> {
    for &(name, len, width) in arrays {
        if len != rows * width * hidden {
            return Err(format!(
                "{op}: {name} has {len} elements but {rows} rows of {width} x {hidden} need {}",
                rows * width * hidden
            ));
        }
    }
    Ok(())
}

/// Runs `f(first_row, row_count)` over blocks of rows, in parallel when the step is large.
fn row_blocks(rows: usize, hidden: usize, gates: usize, f: impl Fn(usize, usize) + Sync) {
    let per_row = (gates * hidden).max(1);
    let block = (GRAIN / per_row).max(1);
    if rows <= block || threading::num_threads() == 1 {
        f(0, rows);
        return;
    }
    let starts: Vec<usize> = (0..rows).step_by(block).collect();
    threading::for_each_piece(starts, |_, start| f(start, block.min(rows - start)));
}

/// Rows `first .. first + count` of an array of rows `width` elements long.
fn block<T>(a: &[T], first: usize, count: usize, width: usize) -> &[T] {
    &a[first * width..][..count * width]
}

/// A raw pointer that row blocks on other threads write through, each to its own rows.
#[derive(Clone, Copy)]
struct Out<T>(*mut T);
// SAFETY: every user writes only the rows of its own block (see `row_blocks`).
unsafe impl<T> Send for Out<T> {}
unsafe impl<T> Sync for Out<T> {}

impl<T> Out<T> {
    /// The `len` elements from `start`.
    ///
    /// # Safety
    /// In bounds of the array, and no other live slice overlaps it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, start: usize, len: usize) -> &mut [T] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

/// One LSTM step: from the gate pre-activations `gates` (`x W_ih^T + b_ih + h W_hh^T + b_hh`)
/// and the previous cell state `c_prev`, the new `h = o * tanh(c)` and `c = f * c_prev + i * g`.
/// `act` receives the activated gates (`sigmoid`, `sigmoid`, `tanh`, `sigmoid`) for the
/// backward.
pub fn lstm_cell_forward<T: Real>(
    (rows, hidden): (usize, usize),
    gates: &[T],
    c_prev: &[T],
    act: &mut [T],
    h: &mut [T],
    c: &mut [T],
) -> Result<(), String> {
    let op = "lstm_cell";
    check(
        op,
        rows,
        hidden,
        &[
            ("gates", gates.len(), 4),
            ("act", act.len(), 4),
            ("c_prev", c_prev.len(), 1),
            ("h", h.len(), 1),
            ("c", c.len(), 1),
        ],
    )?;
    let (act, h, c) = (
        Out(act.as_mut_ptr()),
        Out(h.as_mut_ptr()),
        Out(c.as_mut_ptr()),
    );
    row_blocks(rows, hidden, 4, |first, count| {
        // SAFETY: each block writes its own rows of act, h and c, all in bounds (checked).
        let (act, h, c) = unsafe {
            (
                act.rows(first * 4 * hidden, count * 4 * hidden),
                h.rows(first * hidden, count * hidden),
                c.rows(first * hidden, count * hidden),
            )
        };
        let gates = &gates[first * 4 * hidden..][..count * 4 * hidden];
        let c_prev = &c_prev[first * hidden..][..count * hidden];
        simd::dispatch(
            #[inline(always)]
            || {
                for r in 0..count {
                    let pre = &gates[r * 4 * hidden..][..4 * hidden];
                    let a = &mut act[r * 4 * hidden..][..4 * hidden];
                    let (ai, rest) = a.split_at_mut(hidden);
                    let (af, rest) = rest.split_at_mut(hidden);
                    let (ag, ao) = rest.split_at_mut(hidden);
                    let (pi, rest) = pre.split_at(hidden);
                    let (pf, rest) = rest.split_at(hidden);
                    let (pg, po) = rest.split_at(hidden);
                    let cp = &c_prev[r * hidden..][..hidden];
                    let hr = &mut h[r * hidden..][..hidden];
                    let cr = &mut c[r * hidden..][..hidden];
                    for j in 0..hidden {
                        let (i, f) = (sigmoid(pi[j]), sigmoid(pf[j]));
                        let (g, o) = (pg[j].tanh_fast(), sigmoid(po[j]));
                        let cell = f * cp[j] + i * g;
                        (ai[j], af[j], ag[j], ao[j]) = (i, f, g, o);
                        cr[j] = cell;
                        hr[j] = o * cell.tanh_fast();
                    }
                }
            },
        )
    });
    Ok(())
}

/// Backward of [`lstm_cell_forward`]: from the gradients `dh` and `dc` of its outputs, the
/// gradient of the gate pre-activations `dgates` and of the previous cell state `dc_prev`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward<T: Real>(
    (rows, hidden): (usize, usize),
    act: &[T],
    c_prev: &[T],
    c: &[T],
    dh: &[T],
    dc: &[T],
    dgates: &mut [T],
    dc_prev: &mut [T],
) -> Result<(), String> {
    let op = "lstm_cell_backward";
    check(
        op,
        rows,
        hidden,
        &[
            ("act", act.len(), 4),
            ("dgates", dgates.len(), 4),
            ("c_prev", c_prev.len(), 1),
            ("c", c.len(), 1),
            ("dh", dh.len(), 1),
            ("dc", dc.len(), 1),
            ("dc_prev", dc_prev.len(), 1),
        ],
    )?;
    let (dgates, dc_prev) = (Out(dgates.as_mut_ptr()), Out(dc_prev.as_mut_ptr()));
    row_blocks(rows, hidden, 4, |first, count| {
        // SAFETY: each block writes its own rows of dgates and dc_prev (lengths checked).
        let (dgates, dc_prev) = unsafe {
            (
                dgates.rows(first * 4 * hidden, count * 4 * hidden),
                dc_prev.rows(first * hidden, count * hidden),
            )
        };
        let state = |a| block(a, first, count, hidden);
        let (c_prev, c, dh, dc) = (state(c_prev), state(c), state(dh), state(dc));
        let act = &act[first * 4 * hidden..][..count * 4 * hidden];
        simd::dispatch(
            #[inline(always)]
            || {
                for r in 0..count {
                    let a = &act[r * 4 * hidden..][..4 * hidden];
                    let (ai, rest) = a.split_at(hidden);
                    let (af, rest) = rest.split_at(hidden);
                    let (ag, ao) = rest.split_at(hidden);
                    let d = &mut dgates[r * 4 * hidden..][..4 * hidden];
                    let (di, rest) = d.split_at_mut(hidden);
                    let (df, rest) = rest.split_at_mut(hidden);
                    let (dg, d_o) = rest.split_at_mut(hidden);
                    let row = r * hidden..(r + 1) * hidden;
                    let (cp, cr) = (&c_prev[row.clone()], &c[row.clone()]);
                    let (dhr, dcr) = (&dh[row.clone()], &dc[row.clone()]);
                    let dcp = &mut dc_prev[row];
                    for j in 0..hidden {
                        let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
                        let tc = cr[j].tanh_fast();
                        // All the gradient reaching c: its own and h's through tanh(c).
                        let dcell = dcr[j] + dhr[j] * o * (T::ONE - tc * tc);
                        di[j] = dcell * g * i * (T::ONE - i);
                        df[j] = dcell * cp[j] * f * (T::ONE - f);
                        dg[j] = dcell * i * (T::ONE - g * g);
                        d_o[j] = dhr[j] * tc * o * (T::ONE - o);
                        dcp[j] = dcell * f;
                    }
                }
            },
        )
    });
    Ok(())
}

/// One GRU step, PyTorch's: from the input term `gx = x W_ih^T + b_ih` and the hidden term
/// `gh = h W_hh^T + b_hh` (each `r, z, n` side by side) and the previous state `h_prev`:
/// `r = sigmoid(gx_r + gh_r)`, `z = sigmoid(gx_z + gh_z)`, `n = tanh(gx_n + r * gh_n)`,
/// `h = (1 - z) * n + z * h_prev`. `saved` receives `r, z, n` for the backward.
pub fn gru_cell_forward<T: Real>(
    (rows, hidden): (usize, usize),
    gx: &[T],
    gh: &[T],
    h_prev: &[T],
    saved: &mut [T],
    h: &mut [T],
) -> Result<(), String> {
    let op = "gru_cell";
    check(
        op,
        rows,
        hidden,
        &[
            ("gx", gx.len(), 3),
            ("gh", gh.len(), 3),
            ("saved", saved.len(), 3),
            ("h_prev", h_prev.len(), 1),
            ("h", h.len(), 1),
        ],
    )?;
    let (saved, h) = (Out(saved.as_mut_ptr()), Out(h.as_mut_ptr()));
    row_blocks(rows, hidden, 3, |first, count| {
        // SAFETY: each block writes its own rows of saved and h (lengths checked).
        let (saved, h) = unsafe {
            (
                saved.rows(first * 3 * hidden, count * 3 * hidden),
                h.rows(first * hidden, count * hidden),
            )
        };
        let (gx, gh) = (
            block(gx, first, count, 3 * hidden),
            block(gh, first, count, 3 * hidden),
        );
        let h_prev = &h_prev[first * hidden..][..count * hidden];
        simd::dispatch(
            #[inline(always)]
            || {
                for r in 0..count {
                    let (x3, h3) = (
                        &gx[r * 3 * hidden..][..3 * hidden],
                        &gh[r * 3 * hidden..][..3 * hidden],
                    );
                    let s = &mut saved[r * 3 * hidden..][..3 * hidden];
                    let (sr, rest) = s.split_at_mut(hidden);
                    let (sz, sn) = rest.split_at_mut(hidden);
                    let hp = &h_prev[r * hidden..][..hidden];
                    let hr = &mut h[r * hidden..][..hidden];
                    for j in 0..hidden {
                        let reset = sigmoid(x3[j] + h3[j]);
                        let update = sigmoid(x3[hidden + j] + h3[hidden + j]);
                        let n = (x3[2 * hidden + j] + reset * h3[2 * hidden + j]).tanh_fast();
                        (sr[j], sz[j], sn[j]) = (reset, update, n);
                        hr[j] = n + update * (hp[j] - n);
                    }
                }
            },
        )
    });
    Ok(())
}

/// Backward of [`gru_cell_forward`]: from `dh`, the gradients of `gx`, `gh` and `h_prev`.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward<T: Real>(
    (rows, hidden): (usize, usize),
    saved: &[T],
    gh: &[T],
    h_prev: &[T],
    dh: &[T],
    dgx: &mut [T],
    dgh: &mut [T],
    dh_prev: &mut [T],
) -> Result<(), String> {
    let op = "gru_cell_backward";
    check(
        op,
        rows,
        hidden,
        &[
            ("saved", saved.len(), 3),
            ("gh", gh.len(), 3),
            ("dgx", dgx.len(), 3),
            ("dgh", dgh.len(), 3),
            ("h_prev", h_prev.len(), 1),
            ("dh", dh.len(), 1),
            ("dh_prev", dh_prev.len(), 1),
        ],
    )?;
    let (dgx, dgh, dh_prev) = (
        Out(dgx.as_mut_ptr()),
        Out(dgh.as_mut_ptr()),
        Out(dh_prev.as_mut_ptr()),
    );
    row_blocks(rows, hidden, 3, |first, count| {
        // SAFETY: each block writes its own rows of dgx, dgh and dh_prev (lengths checked).
        let (dgx, dgh, dh_prev) = unsafe {
            (
                dgx.rows(first * 3 * hidden, count * 3 * hidden),
                dgh.rows(first * 3 * hidden, count * 3 * hidden),
                dh_prev.rows(first * hidden, count * hidden),
            )
        };
        let saved = block(saved, first, count, 3 * hidden);
        let gh = block(gh, first, count, 3 * hidden);
        let (h_prev, dh) = (
            block(h_prev, first, count, hidden),
            block(dh, first, count, hidden),
        );
        simd::dispatch(
            #[inline(always)]
            || {
                for r in 0..count {
                    let three = r * 3 * hidden..(r + 1) * 3 * hidden;
                    let (s, h3) = (&saved[three.clone()], &gh[three.clone()]);
                    let (dx3, dh3) = (&mut dgx[three.clone()], &mut dgh[three]);
                    let row = r * hidden..(r + 1) * hidden;
                    let (hp, g) = (&h_prev[row.clone()], &dh[row.clone()]);
                    let dhp = &mut dh_prev[row];
                    for j in 0..hidden {
                        let (reset, update, n) = (s[j], s[hidden + j], s[2 * hidden + j]);
                        let dn = g[j] * (T::ONE - update) * (T::ONE - n * n);
                        let dz = g[j] * (hp[j] - n) * update * (T::ONE - update);
                        let dr = dn * h3[2 * hidden + j] * reset * (T::ONE - reset);
                        (dx3[j], dx3[hidden + j], dx3[2 * hidden + j]) = (dr, dz, dn);
                        (dh3[j], dh3[hidden + j], dh3[2 * hidden + j]) = (dr, dz, dn * reset);
                        dhp[j] = g[j] * update;
                    }
                }
            },
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn random(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    /// The scalar LSTM step, written from the equations.
    fn lstm_naive(
        rows: usize,
        hidden: usize,
        gates: &[f64],
        c_prev: &[f64],
    ) -> (Vec<f64>, Vec<f64>) {
        let (mut h, mut c) = (vec![0.0; rows * hidden], vec![0.0; rows * hidden]);
        for r in 0..rows {
            for j in 0..hidden {
                let at = |k: usize| gates[r * 4 * hidden + k * hidden + j];
                let (i, f, g, o) = (sig(at(0)), sig(at(1)), at(2).tanh(), sig(at(3)));
                c[r * hidden + j] = f * c_prev[r * hidden + j] + i * g;
                h[r * hidden + j] = o * c[r * hidden + j].tanh();
            }
        }
        (h, c)
    }

    fn gru_naive(rows: usize, hidden: usize, gx: &[f64], gh: &[f64], hp: &[f64]) -> Vec<f64> {
        let mut h = vec![0.0; rows * hidden];
        for r in 0..rows {
            for j in 0..hidden {
                let x = |k: usize| gx[r * 3 * hidden + k * hidden + j];
                let y = |k: usize| gh[r * 3 * hidden + k * hidden + j];
                let (reset, update) = (sig(x(0) + y(0)), sig(x(1) + y(1)));
                let n = (x(2) + reset * y(2)).tanh();
                h[r * hidden + j] = (1.0 - update) * n + update * hp[r * hidden + j];
            }
        }
        h
    }

    /// `sum(w . f(x))` and its finite-difference gradient in `x`.
    fn numeric(x: &[f64], f: &dyn Fn(&[f64]) -> f64) -> Vec<f64> {
        let eps = 1e-6;
        let mut x = x.to_vec();
        (0..x.len())
            .map(|i| {
                let v = x[i];
                x[i] = v + eps;
                let plus = f(&x);
                x[i] = v - eps;
                let minus = f(&x);
                x[i] = v;
                (plus - minus) / (2.0 * eps)
            })
            .collect()
    }

    fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{k}]: {x} vs {y}"
            );
        }
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn lstm_matches_the_equations_and_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for &(rows, hidden) in &[(1, 1), (3, 5), (2, 17), (300, 40)] {
            let gates = random(&mut rng, rows * 4 * hidden);
            let c_prev = random(&mut rng, rows * hidden);
            let n = rows * hidden;
            let (mut act, mut h, mut c) = (vec![0.0; 4 * n], vec![0.0; n], vec![0.0; n]);
            lstm_cell_forward((rows, hidden), &gates, &c_prev, &mut act, &mut h, &mut c).unwrap();
            let (want_h, want_c) = lstm_naive(rows, hidden, &gates, &c_prev);
            close(&h, &want_h, 1e-13, "h");
            close(&c, &want_c, 1e-13, "c");
            if rows > 3 {
                continue; // finite differences on the small cases only
            }
            let (wh, wc) = (random(&mut rng, n), random(&mut rng, n));
            let (mut dgates, mut dc_prev) = (vec![0.0; 4 * n], vec![0.0; n]);
            lstm_cell_backward(
                (rows, hidden),
                &act,
                &c_prev,
                &c,
                &wh,
                &wc,
                &mut dgates,
                &mut dc_prev,
            )
            .unwrap();
            let loss = |g: &[f64], cp: &[f64]| {
                let (h, c) = lstm_naive(rows, hidden, g, cp);
                dot(&h, &wh) + dot(&c, &wc)
            };
            close(
                &dgates,
                &numeric(&gates, &|g| loss(g, &c_prev)),
                1e-7,
                "dgates",
            );
            close(
                &dc_prev,
                &numeric(&c_prev, &|cp| loss(&gates, cp)),
                1e-7,
                "dc_prev",
            );
        }
    }

    #[test]
    fn gru_matches_the_equations_and_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        for &(rows, hidden) in &[(1, 1), (3, 5), (2, 17), (300, 40)] {
            let n = rows * hidden;
            let (gx, gh, hp) = (
                random(&mut rng, 3 * n),
                random(&mut rng, 3 * n),
                random(&mut rng, n),
            );
            let (mut saved, mut h) = (vec![0.0; 3 * n], vec![0.0; n]);
            gru_cell_forward((rows, hidden), &gx, &gh, &hp, &mut saved, &mut h).unwrap();
            close(&h, &gru_naive(rows, hidden, &gx, &gh, &hp), 1e-13, "h");
            if rows > 3 {
                continue;
            }
            let w = random(&mut rng, n);
            let (mut dgx, mut dgh, mut dhp) = (vec![0.0; 3 * n], vec![0.0; 3 * n], vec![0.0; n]);
            gru_cell_backward(
                (rows, hidden),
                &saved,
                &gh,
                &hp,
                &w,
                &mut dgx,
                &mut dgh,
                &mut dhp,
            )
            .unwrap();
            let loss = |x: &[f64], y: &[f64], p: &[f64]| dot(&gru_naive(rows, hidden, x, y, p), &w);
            close(&dgx, &numeric(&gx, &|x| loss(x, &gh, &hp)), 1e-7, "dgx");
            close(&dgh, &numeric(&gh, &|y| loss(&gx, y, &hp)), 1e-7, "dgh");
            close(&dhp, &numeric(&hp, &|p| loss(&gx, &gh, p)), 1e-7, "dh_prev");
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut out = vec![0.0f32; 4];
        let e = lstm_cell_forward((1, 1), &[0.0; 3], &[0.0], &mut out, &mut [0.0], &mut [0.0])
            .unwrap_err();
        assert!(
            e.contains("lstm_cell: gates has 3 elements but 1 rows of 4 x 1 need 4"),
            "{e}"
        );
        let e = gru_cell_forward(
            (2, 1),
            &[0.0; 6],
            &[0.0; 6],
            &[0.0],
            &mut [0.0; 6],
            &mut [0.0; 2],
        )
        .unwrap_err();
        assert!(e.contains("gru_cell: h_prev has 1 elements"), "{e}");
    }
}
