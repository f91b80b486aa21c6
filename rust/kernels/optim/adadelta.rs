//! Adadelta (`torch.optim.Adadelta`) with weight decay.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_nonnegative, check_unit_interval, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// Adadelta with L2 weight decay.
///
/// ```text
/// g = ±grad + weight_decay * p
/// v = rho * v + (1 - rho) * g * g
/// delta = sqrt(u + eps) / sqrt(v + eps) * g
/// u = rho * u + (1 - rho) * delta * delta
/// p = p - lr * delta
/// ```
/// State: `square_avg` (v), `acc_delta` (u).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adadelta {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

#[inline(always)]
fn adadelta_loop<T: Real, const WD: bool>(
    h: &Adadelta,
    p: &mut [T],
    g: &[T],
    v: &mut [T],
    u: &mut [T],
) {
    let n = p.len();
    let (g, v, u) = (&g[..n], &mut v[..n], &mut u[..n]);
    let (sign, wd, lr) = (
        cast::<T>(grad_sign(h.maximize)),
        cast::<T>(h.weight_decay),
        cast::<T>(h.lr),
    );
    let (rho, one_minus_rho, eps) = (cast::<T>(h.rho), cast::<T>(1.0 - h.rho), cast::<T>(h.eps));
    for i in 0..n {
        let pi = p[i];
        let mut gi = sign * g[i];
        if WD {
            gi += wd * pi;
        }
        let vi = rho * v[i] + one_minus_rho * gi * gi;
        v[i] = vi;
        let delta = (u[i] + eps).sqrt() / (vi + eps).sqrt() * gi;
        u[i] = rho * u[i] + one_minus_rho * delta * delta;
        p[i] = pi - lr * delta;
    }
}

impl UpdateRule for Adadelta {
    type Consts = ();

    fn name(&self) -> &'static str {
        "adadelta"
    }

    fn state_names(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
    }

    fn validate(&self) -> Result<(), String> {
        check_nonnegative(
            "adadelta",
            &[
                ("learning rate", self.lr),
                ("epsilon value", self.eps),
                ("weight_decay value", self.weight_decay),
            ],
        )?;
        check_unit_interval("adadelta", "rho value", self.rho, true)
    }

    fn consts(&self, _step: u64, _carry: &mut f64) {}

    #[inline(always)]
    fn update<T: Real>(&self, _k: &(), p: &mut [T], g: &[T], s: &mut [&mut [T]; MAX_STATE]) {
        let [v, u, _] = s;
        let (v, u) = (&mut **v, &mut **u);
        {
            if self.weight_decay != 0.0 {
                adadelta_loop::<T, true>(self, p, g, v, u)
            } else {
                adadelta_loop::<T, false>(self, p, g, v, u)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::optim::test_support::check_rule;

    /// The scalar reference, written straight from PyTorch's algorithm box in f64.
    mod reference {
        pub fn adadelta(h: &super::Adadelta, p: &mut f64, g: f64, v: &mut f64, u: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            *v = h.rho * *v + (1.0 - h.rho) * g * g;
            let delta = (*u + h.eps).sqrt() / (*v + h.eps).sqrt() * g;
            *u = h.rho * *u + (1.0 - h.rho) * delta * delta;
            *p -= h.lr * delta;
        }
    }

    #[test]
    fn adadelta_matches_reference() {
        for (wd, maximize) in [(0.0, false), (0.1, false), (0.0, true)] {
            let h = Adadelta {
                lr: 1.0,
                rho: 0.9,
                eps: 1e-6,
                weight_decay: wd,
                maximize,
            };
            check_rule(&h, 0.0, |_, p, g, s| {
                let [v, u, _] = s;
                reference::adadelta(&h, p, g, v, u)
            });
        }
    }
}
