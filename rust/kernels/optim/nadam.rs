//! NAdam (`torch.optim.NAdam`), Adam with Nesterov momentum and momentum decay.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_adam_like, check_nonnegative, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// NAdam (Adam with Nesterov momentum, Dozat 2016) with momentum decay, and L2 or (with
/// `decoupled_weight_decay`) decoupled weight decay.
///
/// ```text
/// mu_t = beta1 * (1 - 0.5 * 0.96^(step * momentum_decay)),  mu_{t+1} likewise at step + 1
/// mu_product = mu_product * mu_t                                  (carried per tensor)
/// g = ±grad (+ weight_decay * p);  p = p * (1 - lr * weight_decay) if decoupled
/// m = beta1 * m + (1 - beta1) * g
/// v = beta2 * v + (1 - beta2) * g * g
/// denom = sqrt(v / (1 - beta2^step)) + eps
/// p = p - lr * (1 - mu_t) / (1 - mu_product) * (g / denom)
/// p = p - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * (m / denom)
/// ```
/// State: `exp_avg` (m), `exp_avg_sq` (v); carried scalar `mu_product` (starts at 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nadam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct NadamConsts {
    bias_correction2: f64,
    grad_coef: f64,
    avg_coef: f64,
}

#[inline(always)]
fn nadam_loop<T: Real, const L2: bool>(
    h: &Nadam,
    k: &NadamConsts,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let (sign, wd) = (cast::<T>(grad_sign(h.maximize)), cast::<T>(h.weight_decay));
    // The decoupled shrink factor; exactly 1 otherwise, where multiplying changes nothing.
    let shrink = cast::<T>(if h.decoupled_weight_decay {
        1.0 - h.lr * h.weight_decay
    } else {
        1.0
    });
    let (b1, one_minus_b1) = (cast::<T>(h.beta1), cast::<T>(1.0 - h.beta1));
    let (b2, one_minus_b2) = (cast::<T>(h.beta2), cast::<T>(1.0 - h.beta2));
    let (bc2, eps) = (cast::<T>(k.bias_correction2), cast::<T>(h.eps));
    let (grad_coef, avg_coef) = (cast::<T>(k.grad_coef), cast::<T>(k.avg_coef));
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
        let denom = (vi / bc2).sqrt() + eps;
        let pi = pi - grad_coef * (gi / denom);
        p[i] = pi - avg_coef * (mi / denom);
    }
}

impl UpdateRule for Nadam {
    type Consts = NadamConsts;

    fn name(&self) -> &'static str {
        "nadam"
    }

    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn carry_name(&self) -> Option<&'static str> {
        Some("mu_product")
    }

    fn validate(&self) -> Result<(), String> {
        let betas = (self.beta1, self.beta2);
        check_adam_like("nadam", self.lr, self.eps, self.weight_decay, betas)?;
        check_nonnegative("nadam", &[("momentum_decay value", self.momentum_decay)])
    }

    fn consts(&self, step: u64, mu_product: &mut f64) -> NadamConsts {
        let t = step as f64;
        let mu = self.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = self.beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        *mu_product *= mu;
        let mu_product_next = *mu_product * mu_next;
        NadamConsts {
            bias_correction2: 1.0 - self.beta2.powf(t),
            grad_coef: self.lr * (1.0 - mu) / (1.0 - *mu_product),
            avg_coef: self.lr * mu_next / (1.0 - mu_product_next),
        }
    }

    #[inline(always)]
    fn update<T: Real>(
        &self,
        k: &NadamConsts,
        p: &mut [T],
        g: &[T],
        s: &mut [&mut [T]; MAX_STATE],
    ) {
        let [m, v, _] = s;
        let (m, v) = (&mut **m, &mut **v);
        if self.weight_decay != 0.0 && !self.decoupled_weight_decay {
            nadam_loop::<T, true>(self, k, p, g, m, v)
        } else {
            nadam_loop::<T, false>(self, k, p, g, m, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::optim::test_support::check_rule;
    use crate::kernels::optim::{step, ParamState};

    /// The scalar reference, written straight from PyTorch's algorithm box in f64.
    mod reference {
        /// NAdam's momentum coefficient at step `t`.
        fn nadam_mu(h: &super::Nadam, t: u64) -> f64 {
            h.beta1 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * h.momentum_decay))
        }

        /// `mu_1 * ... * mu_t`, computed afresh (the kernel carries it from step to step).
        pub fn nadam_mu_product(h: &super::Nadam, t: u64) -> f64 {
            (1..=t).map(|i| nadam_mu(h, i)).product()
        }

        pub fn nadam(h: &super::Nadam, t: u64, p: &mut f64, g: f64, s: &mut [f64; 3]) {
            let mut g = if h.maximize { -g } else { g };
            if h.decoupled_weight_decay {
                *p *= 1.0 - h.lr * h.weight_decay;
            } else {
                g += h.weight_decay * *p;
            }
            let (mu, mu_next) = (nadam_mu(h, t), nadam_mu(h, t + 1));
            let mu_product = nadam_mu_product(h, t);
            s[0] = h.beta1 * s[0] + (1.0 - h.beta1) * g;
            s[1] = h.beta2 * s[1] + (1.0 - h.beta2) * g * g;
            let v_hat = s[1] / (1.0 - h.beta2.powi(t as i32));
            let m_bar =
                (1.0 - mu) / (1.0 - mu_product) * g + mu_next / (1.0 - mu_product * mu_next) * s[0];
            *p -= h.lr * m_bar / (v_hat.sqrt() + h.eps);
        }
    }

    fn nadam(weight_decay: f64, decoupled_weight_decay: bool, maximize: bool) -> Nadam {
        Nadam {
            lr: 0.02,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            momentum_decay: 4e-3,
            decoupled_weight_decay,
            maximize,
        }
    }

    #[test]
    fn nadam_matches_reference() {
        for decoupled in [false, true] {
            for (wd, maximize) in [(0.0, false), (0.05, false), (0.1, true)] {
                let h = nadam(wd, decoupled, maximize);
                check_rule(&h, 0.0, |t, p, g, s| reference::nadam(&h, t, p, g, s));
            }
        }
        // A large momentum decay makes mu_t change quickly from step to step.
        let h = Nadam {
            momentum_decay: 0.5,
            ..nadam(0.0, false, false)
        };
        check_rule(&h, 0.0, |t, p, g, s| reference::nadam(&h, t, p, g, s));
    }

    #[test]
    fn nadam_carries_mu_product_per_tensor() {
        // Tensors at different step counts (one resumed from a saved mu_product) each carry
        // their own product.
        let h = nadam(0.0, false, false);
        let (mut p, mut q) = (vec![0.5f64; 3], vec![0.5f64; 2]);
        let (g, gq) = (vec![0.1f64; 3], vec![-0.2f64; 2]);
        let (mut m, mut v, mut mq, mut vq) =
            (vec![0.0; 3], vec![0.0; 3], vec![0.0; 2], vec![0.0; 2]);
        let mut mu_p = 1.0;
        let mut mu_q = reference::nadam_mu_product(&h, 6);
        for t in 1..=4u64 {
            let group = vec![
                ParamState {
                    param: &mut p,
                    grad: &g,
                    state: vec![&mut m, &mut v],
                    step: t,
                    carry: Some(&mut mu_p),
                },
                ParamState {
                    param: &mut q,
                    grad: &gq,
                    state: vec![&mut mq, &mut vq],
                    step: t + 6,
                    carry: Some(&mut mu_q),
                },
            ];
            step(&h, group).unwrap();
        }
        let (want_p, want_q) = (
            reference::nadam_mu_product(&h, 4),
            reference::nadam_mu_product(&h, 10),
        );
        assert!(
            (mu_p - want_p).abs() <= 1e-15 * want_p,
            "{mu_p} vs {want_p}"
        );
        assert!(
            (mu_q - want_q).abs() <= 1e-15 * want_q,
            "{mu_q} vs {want_q}"
        );

        let err = step(
            &h,
            vec![ParamState {
                param: &mut p,
                grad: &g,
                state: vec![&mut m, &mut v],
                step: 1,
                carry: None,
            }],
        )
        .unwrap_err();
        assert!(err.contains("param 0 brings no mu_product"), "{err}");
    }
}
