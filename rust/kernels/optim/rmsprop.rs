//! RMSprop (`torch.optim.RMSprop`), plain or centered, with or without momentum.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_nonnegative, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// RMSprop, optionally centered and with momentum, with L2 weight decay.
///
/// ```text
/// g = ±grad + weight_decay * p
/// v = alpha * v + (1 - alpha) * g * g
/// if centered: ga = alpha * ga + (1 - alpha) * g;  avg = sqrt(v - ga * ga) + eps
/// else:        avg = sqrt(v) + eps
/// if momentum > 0: b = momentum * b + g / avg;  p = p - lr * b
/// else:            p = p - lr * g / avg
/// ```
/// State: `square_avg`, then `momentum_buffer` if `momentum > 0`, then `grad_avg` if
/// `centered`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rmsprop {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

#[inline(always)]
fn rmsprop_loop<T: Real, const WD: bool, const MOM: bool, const CENTERED: bool>(
    h: &Rmsprop,
    p: &mut [T],
    g: &[T],
    v: &mut [T],
    b: &mut [T],
    ga: &mut [T],
) {
    let n = p.len();
    let (g, v) = (&g[..n], &mut v[..n]);
    let b = if MOM { &mut b[..n] } else { b };
    let ga = if CENTERED { &mut ga[..n] } else { ga };
    let (sign, wd, lr) = (
        cast::<T>(grad_sign(h.maximize)),
        cast::<T>(h.weight_decay),
        cast::<T>(h.lr),
    );
    let (alpha, one_minus_alpha) = (cast::<T>(h.alpha), cast::<T>(1.0 - h.alpha));
    let (eps, mu) = (cast::<T>(h.eps), cast::<T>(h.momentum));
    for i in 0..n {
        let pi = p[i];
        let mut gi = sign * g[i];
        if WD {
            gi += wd * pi;
        }
        let vi = alpha * v[i] + one_minus_alpha * gi * gi;
        v[i] = vi;
        let avg = if CENTERED {
            let gai = alpha * ga[i] + one_minus_alpha * gi;
            ga[i] = gai;
            (vi - gai * gai).sqrt() + eps
        } else {
            vi.sqrt() + eps
        };
        if MOM {
            let bi = mu * b[i] + gi / avg;
            b[i] = bi;
            p[i] = pi - lr * bi;
        } else {
            p[i] = pi - lr * gi / avg;
        }
    }
}

impl UpdateRule for Rmsprop {
    type Consts = ();

    fn name(&self) -> &'static str {
        "rmsprop"
    }

    fn state_names(&self) -> &'static [&'static str] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &["square_avg"],
            (true, false) => &["square_avg", "momentum_buffer"],
            (false, true) => &["square_avg", "grad_avg"],
            (true, true) => &["square_avg", "momentum_buffer", "grad_avg"],
        }
    }

    fn validate(&self) -> Result<(), String> {
        check_nonnegative(
            "rmsprop",
            &[
                ("learning rate", self.lr),
                ("epsilon value", self.eps),
                ("momentum value", self.momentum),
                ("weight_decay value", self.weight_decay),
                ("alpha value", self.alpha),
            ],
        )
    }

    fn consts(&self, _step: u64, _carry: &mut f64) {}

    #[inline(always)]
    fn update<T: Real>(&self, _k: &(), p: &mut [T], g: &[T], s: &mut [&mut [T]; MAX_STATE]) {
        let [v, s1, s2] = s;
        let v = &mut **v;
        // Buffers follow `state_names`: with momentum off, grad_avg is the second one.
        let (b, ga) = if self.momentum > 0.0 {
            (&mut **s1, &mut **s2)
        } else {
            (&mut **s2, &mut **s1)
        };
        let wd = self.weight_decay != 0.0;
        match (wd, self.momentum > 0.0, self.centered) {
            (false, false, false) => rmsprop_loop::<T, false, false, false>(self, p, g, v, b, ga),
            (false, false, true) => rmsprop_loop::<T, false, false, true>(self, p, g, v, b, ga),
            (false, true, false) => rmsprop_loop::<T, false, true, false>(self, p, g, v, b, ga),
            (false, true, true) => rmsprop_loop::<T, false, true, true>(self, p, g, v, b, ga),
            (true, false, false) => rmsprop_loop::<T, true, false, false>(self, p, g, v, b, ga),
            (true, false, true) => rmsprop_loop::<T, true, false, true>(self, p, g, v, b, ga),
            (true, true, false) => rmsprop_loop::<T, true, true, false>(self, p, g, v, b, ga),
            (true, true, true) => rmsprop_loop::<T, true, true, true>(self, p, g, v, b, ga),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::optim::test_support::check_rule;

    /// The scalar reference, written straight from PyTorch's algorithm box in f64.
    mod reference {
        pub fn rmsprop(h: &super::Rmsprop, p: &mut f64, g: f64, s: &mut [f64; 3]) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            s[0] = h.alpha * s[0] + (1.0 - h.alpha) * g * g;
            let mut v_tilde = s[0];
            if h.centered {
                s[2] = h.alpha * s[2] + (1.0 - h.alpha) * g;
                v_tilde -= s[2] * s[2];
            }
            let avg = v_tilde.sqrt() + h.eps;
            if h.momentum > 0.0 {
                s[1] = h.momentum * s[1] + g / avg;
                *p -= h.lr * s[1];
            } else {
                *p -= h.lr * g / avg;
            }
        }
    }

    #[test]
    fn rmsprop_matches_reference() {
        for momentum in [0.0, 0.9] {
            for centered in [false, true] {
                for (wd, maximize) in [(0.0, false), (0.05, true)] {
                    let h = Rmsprop {
                        lr: 0.01,
                        alpha: 0.99,
                        eps: 1e-8,
                        weight_decay: wd,
                        momentum,
                        centered,
                        maximize,
                    };
                    // The kernel stores grad_avg second when there is no momentum buffer.
                    check_rule(&h, 0.0, |_, p, g, s| {
                        let mut full = [s[0], s[1], s[2]];
                        if momentum == 0.0 {
                            full = [s[0], 0.0, s[1]];
                        }
                        reference::rmsprop(&h, p, g, &mut full);
                        *s = if momentum == 0.0 {
                            [full[0], full[2], 0.0]
                        } else {
                            full
                        };
                    });
                }
            }
        }
    }
}
