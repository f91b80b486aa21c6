//! What the rules' unit tests share: seeded random data, and `check_rule`, which runs a rule
//! through `step` over tensors of odd lengths in f64 and f32 and compares every parameter and
//! state buffer with the rule's scalar f64 reference.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{step, ParamState, UpdateRule};
use crate::kernels::real::Real;

pub(super) fn random(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| (rng.random::<f64>() - 0.5) * scale)
        .collect()
}

/// Run `steps` updates of `rule` over tensors of the given lengths, in dtype `T`, with
/// fresh random gradients each step; return params and state buffers as f64.
fn run_kernel<T: Real, R: UpdateRule>(
    rule: &R,
    lens: &[usize],
    steps: u64,
    init_state: f64,
) -> Vec<(Vec<f64>, Vec<Vec<f64>>)> {
    let n_state = rule.state_names().len();
    let mut params: Vec<Vec<T>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            random(n, i as u64, 2.0)
                .into_iter()
                .map(T::from_f64)
                .collect()
        })
        .collect();
    let mut states: Vec<Vec<Vec<T>>> = lens
        .iter()
        .map(|&n| vec![vec![T::from_f64(init_state); n]; n_state])
        .collect();
    let carries_needed = rule.carry_name().is_some();
    let mut carries = vec![1.0f64; lens.len()];
    for t in 1..=steps {
        let grads: Vec<Vec<T>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let seed = 1000 * t + i as u64;
                random(n, seed, 1.0).into_iter().map(T::from_f64).collect()
            })
            .collect();
        let group = params
            .iter_mut()
            .zip(&grads)
            .zip(states.iter_mut())
            .zip(carries.iter_mut())
            .map(|(((p, g), s), c)| ParamState {
                param: p.as_mut_slice(),
                grad: g.as_slice(),
                state: s.iter_mut().map(|b| b.as_mut_slice()).collect(),
                step: t,
                carry: carries_needed.then_some(c),
            })
            .collect();
        step(rule, group).unwrap();
    }
    params
        .into_iter()
        .zip(states)
        .map(|(p, s)| {
            (
                p.into_iter().map(T::to_f64).collect(),
                s.into_iter()
                    .map(|b| b.into_iter().map(T::to_f64).collect())
                    .collect(),
            )
        })
        .collect()
}

/// The same updates through a scalar reference `f(t, p, g, state)`.
fn run_reference(
    lens: &[usize],
    steps: u64,
    n_state: usize,
    init_state: f64,
    f: impl Fn(u64, &mut f64, f64, &mut [f64; 3]),
) -> Vec<(Vec<f64>, Vec<Vec<f64>>)> {
    lens.iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut p = random(n, i as u64, 2.0);
            let mut s = vec![[init_state; 3]; n];
            for t in 1..=steps {
                let g = random(n, 1000 * t + i as u64, 1.0);
                for j in 0..n {
                    f(t, &mut p[j], g[j], &mut s[j]);
                }
            }
            let bufs = (0..n_state)
                .map(|k| s.iter().map(|x| x[k]).collect())
                .collect();
            (p, bufs)
        })
        .collect()
}

fn assert_close(
    what: &str,
    got: &[(Vec<f64>, Vec<Vec<f64>>)],
    want: &[(Vec<f64>, Vec<Vec<f64>>)],
    rtol: f64,
) {
    for (i, ((gp, gs), (wp, ws))) in got.iter().zip(want).enumerate() {
        let mut arrays = vec![(gp, wp)];
        arrays.extend(gs.iter().zip(ws));
        for (k, (a, b)) in arrays.into_iter().enumerate() {
            for (j, (x, y)) in a.iter().zip(b).enumerate() {
                let tol = rtol * (1.0 + y.abs());
                assert!(
                    (x - y).abs() <= tol,
                    "{what}: tensor {i} array {k} element {j}: kernel {x} vs reference {y}"
                );
            }
        }
    }
}

/// Check `rule` in f64 (tight) and f32 (round-off) against its scalar reference, over
/// several tensors of odd lengths (vector bodies and scalar tails).
pub(super) fn check_rule<R: UpdateRule + std::fmt::Debug>(
    rule: &R,
    init_state: f64,
    f: impl Fn(u64, &mut f64, f64, &mut [f64; 3]),
) {
    let lens = [1, 7, 33, 100, 0, 257];
    let steps = 25;
    let n_state = rule.state_names().len();
    let want = run_reference(&lens, steps, n_state, init_state, f);
    let got64 = run_kernel::<f64, R>(rule, &lens, steps, init_state);
    assert_close(&format!("{rule:?} f64"), &got64, &want, 1e-10);
    let got32 = run_kernel::<f32, R>(rule, &lens, steps, init_state);
    assert_close(&format!("{rule:?} f32"), &got32, &want, 2e-4);
}
