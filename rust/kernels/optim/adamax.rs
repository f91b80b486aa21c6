//! Adamax (`torch.optim.Adamax`), Adam with an infinity-norm second moment.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_adam_like, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// Adamax: Adam with the second moment replaced by an exponentially weighted infinity norm,
/// with L2 weight decay.
///
/// ```text
/// g = ±grad + weight_decay * p
/// m = beta1 * m + (1 - beta1) * g
/// u = max(beta2 * u, |g| + eps)
/// p = p - lr / (1 - beta1^step) * (m / u)
/// ```
/// State: `exp_avg` (m), `exp_inf` (u).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adamax {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct AdamaxConsts {
    clr: f64,
}

#[inline(always)]
fn adamax_loop<T: Real, const WD: bool>(
    h: &Adamax,
    k: &AdamaxConsts,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    u: &mut [T],
) {
    let n = p.len();
    let (g, m, u) = (&g[..n], &mut m[..n], &mut u[..n]);
    let (sign, wd) = (cast::<T>(grad_sign(h.maximize)), cast::<T>(h.weight_decay));
    let (b1, one_minus_b1) = (cast::<T>(h.beta1), cast::<T>(1.0 - h.beta1));
    let (b2, eps, clr) = (cast::<T>(h.beta2), cast::<T>(h.eps), cast::<T>(k.clr));
    for i in 0..n {
        let pi = p[i];
        let mut gi = sign * g[i];
        if WD {
            gi += wd * pi;
        }
        let mi = b1 * m[i] + one_minus_b1 * gi;
        m[i] = mi;
        // NaN-propagating, as torch.maximum is.
        let ui = (b2 * u[i]).max_nan(gi.abs() + eps);
        u[i] = ui;
        p[i] = pi - clr * (mi / ui);
    }
}

impl UpdateRule for Adamax {
    type Consts = AdamaxConsts;

    fn name(&self) -> &'static str {
        "adamax"
    }

    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }

    fn validate(&self) -> Result<(), String> {
        let betas = (self.beta1, self.beta2);
        check_adam_like("adamax", self.lr, self.eps, self.weight_decay, betas)
    }

    fn consts(&self, step: u64, _carry: &mut f64) -> AdamaxConsts {
        AdamaxConsts {
            clr: self.lr / (1.0 - self.beta1.powf(step as f64)),
        }
    }

    #[inline(always)]
    fn update<T: Real>(
        &self,
        k: &AdamaxConsts,
        p: &mut [T],
        g: &[T],
        s: &mut [&mut [T]; MAX_STATE],
    ) {
        let [m, u, _] = s;
        let (m, u) = (&mut **m, &mut **u);
        if self.weight_decay != 0.0 {
            adamax_loop::<T, true>(self, k, p, g, m, u)
        } else {
            adamax_loop::<T, false>(self, k, p, g, m, u)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::optim::test_support::check_rule;

    /// The scalar reference, written straight from PyTorch's algorithm box in f64.
    mod reference {
        pub fn adamax(h: &super::Adamax, t: u64, p: &mut f64, g: f64, m: &mut f64, u: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            *m = h.beta1 * *m + (1.0 - h.beta1) * g;
            *u = (h.beta2 * *u).max(g.abs() + h.eps);
            *p -= h.lr / (1.0 - h.beta1.powi(t as i32)) * *m / *u;
        }
    }

    #[test]
    fn adamax_matches_reference() {
        for (wd, maximize) in [(0.0, false), (0.05, false), (0.1, true)] {
            let h = Adamax {
                lr: 0.02,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
                maximize,
            };
            check_rule(&h, 0.0, |t, p, g, s| {
                let [m, u, _] = s;
                reference::adamax(&h, t, p, g, m, u)
            });
        }
    }
}
