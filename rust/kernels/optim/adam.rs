//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`), optionally AMSGrad.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_adam_like, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// Adam (L2 weight decay added to the gradient) or AdamW (`decoupled_weight_decay`: the
/// parameter is shrunk by `1 - lr * weight_decay` before the Adam step), optionally AMSGrad.
///
/// ```text
/// g = ±grad (+ weight_decay * p for Adam);  p = p * (1 - lr * weight_decay) for AdamW
/// m = beta1 * m + (1 - beta1) * g
/// v = beta2 * v + (1 - beta2) * g * g
/// if amsgrad: v_max = max(v_max, v), and v_max replaces v below
/// p = p - lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
/// ```
/// State: `exp_avg` (m), `exp_avg_sq` (v), then `max_exp_avg_sq` if `amsgrad`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct AdamConsts {
    step_size: f64,
    bias_correction2_sqrt: f64,
}

#[inline(always)]
fn adam_loop<T: Real, const L2: bool, const AMSGRAD: bool>(
    h: &Adam,
    k: &AdamConsts,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    v_max: &mut [T],
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let v_max = if AMSGRAD { &mut v_max[..n] } else { v_max };
    let (sign, wd) = (cast::<T>(grad_sign(h.maximize)), cast::<T>(h.weight_decay));
    // AdamW's shrink factor; exactly 1 for Adam, where multiplying by it changes nothing.
    let shrink = cast::<T>(if h.decoupled_weight_decay {
        1.0 - h.lr * h.weight_decay
    } else {
        1.0
    });
    let (b1, one_minus_b1) = (cast::<T>(h.beta1), cast::<T>(1.0 - h.beta1));
    let (b2, one_minus_b2) = (cast::<T>(h.beta2), cast::<T>(1.0 - h.beta2));
    let (step_size, bc2_sqrt) = (cast::<T>(k.step_size), cast::<T>(k.bias_correction2_sqrt));
    let eps = cast::<T>(h.eps);
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
        let v_hat = if AMSGRAD {
            let vm = v_max[i].max_nan(vi);
            v_max[i] = vm;
            vm
        } else {
            vi
        };
        let denom = v_hat.sqrt() / bc2_sqrt + eps;
        p[i] = pi - step_size * mi / denom;
    }
}

impl UpdateRule for Adam {
    type Consts = AdamConsts;

    fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "adamw"
        } else {
            "adam"
        }
    }

    fn state_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    fn validate(&self) -> Result<(), String> {
        let betas = (self.beta1, self.beta2);
        check_adam_like(self.name(), self.lr, self.eps, self.weight_decay, betas)
    }

    fn consts(&self, step: u64, _carry: &mut f64) -> AdamConsts {
        let t = step as f64;
        AdamConsts {
            step_size: self.lr / (1.0 - self.beta1.powf(t)),
            bias_correction2_sqrt: (1.0 - self.beta2.powf(t)).sqrt(),
        }
    }

    #[inline(always)]
    fn update<T: Real>(&self, k: &AdamConsts, p: &mut [T], g: &[T], s: &mut [&mut [T]; MAX_STATE]) {
        let [m, v, v_max] = s;
        let (m, v, v_max) = (&mut **m, &mut **v, &mut **v_max);
        let l2 = self.weight_decay != 0.0 && !self.decoupled_weight_decay;
        match (l2, self.amsgrad) {
            (false, false) => adam_loop::<T, false, false>(self, k, p, g, m, v, v_max),
            (false, true) => adam_loop::<T, false, true>(self, k, p, g, m, v, v_max),
            (true, false) => adam_loop::<T, true, false>(self, k, p, g, m, v, v_max),
            (true, true) => adam_loop::<T, true, true>(self, k, p, g, m, v, v_max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::optim::test_support::check_rule;

    /// The scalar reference, written straight from PyTorch's algorithm box in f64.
    mod reference {
        pub fn adam(h: &super::Adam, t: u64, p: &mut f64, g: f64, s: &mut [f64; 3]) {
            let mut g = if h.maximize { -g } else { g };
            if h.decoupled_weight_decay {
                *p *= 1.0 - h.lr * h.weight_decay;
            } else {
                g += h.weight_decay * *p;
            }
            s[0] = h.beta1 * s[0] + (1.0 - h.beta1) * g;
            s[1] = h.beta2 * s[1] + (1.0 - h.beta2) * g * g;
            let m_hat = s[0] / (1.0 - h.beta1.powi(t as i32));
            let v = if h.amsgrad {
                s[2] = s[2].max(s[1]);
                s[2]
            } else {
                s[1]
            };
            let v_hat = v / (1.0 - h.beta2.powi(t as i32));
            *p -= h.lr * m_hat / (v_hat.sqrt() + h.eps);
        }
    }

    #[test]
    fn adam_and_adamw_match_reference() {
        for decoupled in [false, true] {
            for amsgrad in [false, true] {
                for (wd, maximize) in [(0.0, false), (0.01, false), (0.1, true)] {
                    let h = Adam {
                        lr: 0.01,
                        beta1: 0.9,
                        beta2: 0.999,
                        eps: 1e-8,
                        weight_decay: wd,
                        amsgrad,
                        decoupled_weight_decay: decoupled,
                        maximize,
                    };
                    check_rule(&h, 0.0, |t, p, g, s| reference::adam(&h, t, p, g, s));
                }
            }
        }
    }
}
