//! RAdam (`torch.optim.RAdam`), Adam with a rectified adaptive step.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_adam_like, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// RAdam (Liu et al., 2019): Adam whose adaptive step is switched on, and rectified, only once
/// the variance of its estimate is tractable; L2 or decoupled weight decay.
///
/// ```text
/// g = ±grad (+ weight_decay * p);  p = p * (1 - lr * weight_decay) if decoupled
/// m = beta1 * m + (1 - beta1) * g
/// v = beta2 * v + (1 - beta2) * g * g
/// rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 * step * beta2^step / (1 - beta2^step)
/// m_hat = m / (1 - beta1^step)
/// if rho_t > 5: r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
///               p = p - m_hat * lr * (sqrt(1 - beta2^step) / (sqrt(v) + eps)) * r
/// else:         p = p - m_hat * lr
/// ```
/// State: `exp_avg` (m), `exp_avg_sq` (v).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Radam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct RadamConsts {
    bias_correction1: f64,
    bias_correction2_sqrt: f64,
    /// The rectification term, when `rho_t > 5`.
    rect: Option<f64>,
}

#[inline(always)]
fn radam_loop<T: Real, const L2: bool, const RECTIFY: bool>(
    h: &Radam,
    k: &RadamConsts,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let (sign, wd, lr) = (
        cast::<T>(grad_sign(h.maximize)),
        cast::<T>(h.weight_decay),
        cast::<T>(h.lr),
    );
    let shrink = cast::<T>(if h.decoupled_weight_decay {
        1.0 - h.lr * h.weight_decay
    } else {
        1.0
    });
    let (b1, one_minus_b1) = (cast::<T>(h.beta1), cast::<T>(1.0 - h.beta1));
    let (b2, one_minus_b2) = (cast::<T>(h.beta2), cast::<T>(1.0 - h.beta2));
    let (bc1, bc2_sqrt) = (
        cast::<T>(k.bias_correction1),
        cast::<T>(k.bias_correction2_sqrt),
    );
    let (eps, rect) = (cast::<T>(h.eps), cast::<T>(k.rect.unwrap_or(1.0)));
    for i in 0..n {
        let pi = p[i];
        let mut gi = sign * g[i];
        if L2 {
            gi += wd * pi;
        }
        let pi = pi * shrink;
        let mi = b1 * m[i] + one_minus_b1 * gi;
        let vi = b2 * v[i] + one_minus_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        let step = (mi / bc1) * lr;
        p[i] = if RECTIFY {
            pi - step * (bc2_sqrt / (vi.sqrt() + eps)) * rect
        } else {
            pi - step
        };
    }
}

impl UpdateRule for Radam {
    type Consts = RadamConsts;

    fn name(&self) -> &'static str {
        "radam"
    }

    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn validate(&self) -> Result<(), String> {
        let betas = (self.beta1, self.beta2);
        check_adam_like("radam", self.lr, self.eps, self.weight_decay, betas)
    }

    fn consts(&self, step: u64, _carry: &mut f64) -> RadamConsts {
        let t = step as f64;
        let beta2_t = self.beta2.powf(t);
        let bias_correction2 = 1.0 - beta2_t;
        let rho_inf = 2.0 / (1.0 - self.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * beta2_t / bias_correction2;
        let rect = (rho_t > 5.0).then(|| {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt()
        });
        RadamConsts {
            bias_correction1: 1.0 - self.beta1.powf(t),
            bias_correction2_sqrt: bias_correction2.sqrt(),
            rect,
        }
    }

    #[inline(always)]
    fn update<T: Real>(
        &self,
        k: &RadamConsts,
        p: &mut [T],
        g: &[T],
        s: &mut [&mut [T]; MAX_STATE],
    ) {
        let [m, v, _] = s;
        let (m, v) = (&mut **m, &mut **v);
        let l2 = self.weight_decay != 0.0 && !self.decoupled_weight_decay;
        match (l2, k.rect.is_some()) {
            (false, false) => radam_loop::<T, false, false>(self, k, p, g, m, v),
            (false, true) => radam_loop::<T, false, true>(self, k, p, g, m, v),
            (true, false) => radam_loop::<T, true, false>(self, k, p, g, m, v),
            (true, true) => radam_loop::<T, true, true>(self, k, p, g, m, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::optim::test_support::check_rule;

    /// The scalar reference, written straight from PyTorch's algorithm box in f64.
    mod reference {
        pub fn radam(h: &super::Radam, t: u64, p: &mut f64, g: f64, s: &mut [f64; 3]) {
            let mut g = if h.maximize { -g } else { g };
            if h.decoupled_weight_decay {
                *p *= 1.0 - h.lr * h.weight_decay;
            } else {
                g += h.weight_decay * *p;
            }
            s[0] = h.beta1 * s[0] + (1.0 - h.beta1) * g;
            s[1] = h.beta2 * s[1] + (1.0 - h.beta2) * g * g;
            let m_hat = s[0] / (1.0 - h.beta1.powi(t as i32));
            let b2t = h.beta2.powi(t as i32);
            let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
            let rho_t = rho_inf - 2.0 * t as f64 * b2t / (1.0 - b2t);
            if rho_t > 5.0 {
                let l = (1.0 - b2t).sqrt() / (s[1].sqrt() + h.eps);
                let r = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                    .sqrt();
                *p -= h.lr * m_hat * r * l;
            } else {
                *p -= h.lr * m_hat;
            }
        }
    }

    #[test]
    fn radam_matches_reference() {
        for decoupled in [false, true] {
            for (wd, maximize) in [(0.0, false), (0.05, false), (0.1, true)] {
                // beta2 = 0.9 reaches rho_t > 5 within the first steps: both branches run.
                let h = Radam {
                    lr: 0.02,
                    beta1: 0.9,
                    beta2: 0.9,
                    eps: 1e-8,
                    weight_decay: wd,
                    decoupled_weight_decay: decoupled,
                    maximize,
                };
                check_rule(&h, 0.0, |t, p, g, s| reference::radam(&h, t, p, g, s));
            }
        }
    }

    #[test]
    fn radam_rectifies_only_after_rho_t_exceeds_five() {
        let h = Radam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        };
        let rectified: Vec<bool> = (1..=8)
            .map(|t| h.consts(t, &mut 1.0).rect.is_some())
            .collect();
        // rho_t = 1, 2, 3, 4, 5, 6, ... (to within round-off) for beta2 = 0.999.
        assert_eq!(
            rectified,
            [false, false, false, false, false, true, true, true]
        );
    }
}
