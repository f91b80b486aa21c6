//! Adagrad (`torch.optim.Adagrad`) with learning-rate decay and weight decay.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_nonnegative, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// Adagrad with learning-rate decay and L2 weight decay.
///
/// ```text
/// clr = lr / (1 + (step - 1) * lr_decay)
/// g = ±grad + weight_decay * p
/// sum = sum + g * g
/// p = p - clr * g / (sqrt(sum) + eps)
/// ```
/// State: `sum` (initialised by the caller to `initial_accumulator_value`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct AdagradConsts {
    clr: f64,
}

#[inline(always)]
fn adagrad_loop<T: Real, const WD: bool>(
    h: &Adagrad,
    k: &AdagradConsts,
    p: &mut [T],
    g: &[T],
    sum: &mut [T],
) {
    let n = p.len();
    let (g, sum) = (&g[..n], &mut sum[..n]);
    let (sign, wd) = (cast::<T>(grad_sign(h.maximize)), cast::<T>(h.weight_decay));
    let (clr, eps) = (cast::<T>(k.clr), cast::<T>(h.eps));
    for i in 0..n {
        let pi = p[i];
        let mut gi = sign * g[i];
        if WD {
            gi += wd * pi;
        }
        let si = sum[i] + gi * gi;
        sum[i] = si;
        p[i] = pi - clr * gi / (si.sqrt() + eps);
    }
}

impl UpdateRule for Adagrad {
    type Consts = AdagradConsts;

    fn name(&self) -> &'static str {
        "adagrad"
    }

    fn state_names(&self) -> &'static [&'static str] {
        &["sum"]
    }

    fn validate(&self) -> Result<(), String> {
        check_nonnegative(
            "adagrad",
            &[
                ("learning rate", self.lr),
                ("lr_decay value", self.lr_decay),
                ("weight_decay value", self.weight_decay),
                ("epsilon value", self.eps),
            ],
        )
    }

    fn consts(&self, step: u64, _carry: &mut f64) -> AdagradConsts {
        AdagradConsts {
            clr: self.lr / (1.0 + (step as f64 - 1.0) * self.lr_decay),
        }
    }

    #[inline(always)]
    fn update<T: Real>(
        &self,
        k: &AdagradConsts,
        p: &mut [T],
        g: &[T],
        s: &mut [&mut [T]; MAX_STATE],
    ) {
        let sum = &mut *s[0];
        {
            if self.weight_decay != 0.0 {
                adagrad_loop::<T, true>(self, k, p, g, sum)
            } else {
                adagrad_loop::<T, false>(self, k, p, g, sum)
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
        pub fn adagrad(h: &super::Adagrad, t: u64, p: &mut f64, g: f64, sum: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            let clr = h.lr / (1.0 + (t as f64 - 1.0) * h.lr_decay);
            *sum += g * g;
            *p -= clr * g / (sum.sqrt() + h.eps);
        }
    }

    #[test]
    fn adagrad_matches_reference() {
        for (lr_decay, wd, init, maximize) in [
            (0.0, 0.0, 0.0, false),
            (0.01, 0.1, 0.5, false),
            (0.1, 0.0, 0.1, true),
        ] {
            let h = Adagrad {
                lr: 0.1,
                lr_decay,
                weight_decay: wd,
                eps: 1e-10,
                maximize,
            };
            check_rule(&h, init, |t, p, g, s| {
                reference::adagrad(&h, t, p, g, &mut s[0])
            });
        }
    }
}
