//! SGD (`torch.optim.SGD`) with momentum, dampening, Nesterov momentum and weight decay.
//!
//! The rule's hyperparameters, its `UpdateRule` implementation and its element loop. The
//! fused driver that runs it over a parameter group is in `mod.rs`; the tests check it
//! against a scalar f64 reference of PyTorch's algorithm box.

use super::{cast, check_finite, check_nonnegative, grad_sign, UpdateRule, MAX_STATE};
use crate::kernels::real::Real;

/// SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay.
///
/// ```text
/// g = ±grad + weight_decay * p
/// if momentum != 0:  b = g on the first step, else b = momentum * b + (1 - dampening) * g
///                    g = g + momentum * b if nesterov else b
/// p = p - lr * g
/// ```
/// State: `momentum_buffer` when `momentum != 0`, else none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct SgdConsts {
    first: bool,
}

#[inline(always)]
fn sgd_loop<T: Real, const WD: bool, const MOM: bool, const FIRST: bool, const NEST: bool>(
    h: &Sgd,
    p: &mut [T],
    g: &[T],
    b: &mut [T],
) {
    let n = p.len();
    let g = &g[..n];
    let b = if MOM { &mut b[..n] } else { b };
    let (sign, wd, lr) = (
        cast::<T>(grad_sign(h.maximize)),
        cast::<T>(h.weight_decay),
        cast::<T>(h.lr),
    );
    let (mu, one_minus_damp) = (cast::<T>(h.momentum), cast::<T>(1.0 - h.dampening));
    for i in 0..n {
        let pi = p[i];
        let mut gi = sign * g[i];
        if WD {
            gi += wd * pi;
        }
        if MOM {
            let bi = if FIRST {
                gi
            } else {
                mu * b[i] + one_minus_damp * gi
            };
            b[i] = bi;
            gi = if NEST { gi + mu * bi } else { bi };
        }
        p[i] = pi - lr * gi;
    }
}

impl UpdateRule for Sgd {
    type Consts = SgdConsts;

    fn name(&self) -> &'static str {
        "sgd"
    }

    fn state_names(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }

    fn validate(&self) -> Result<(), String> {
        check_nonnegative(
            "sgd",
            &[
                ("learning rate", self.lr),
                ("momentum value", self.momentum),
                ("weight_decay value", self.weight_decay),
            ],
        )?;
        check_finite("sgd", &[("dampening value", self.dampening)])?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err("sgd: Nesterov momentum requires a momentum and zero dampening".into());
        }
        Ok(())
    }

    fn consts(&self, step: u64, _carry: &mut f64) -> SgdConsts {
        SgdConsts { first: step == 1 }
    }

    #[inline(always)]
    fn update<T: Real>(&self, k: &SgdConsts, p: &mut [T], g: &[T], s: &mut [&mut [T]; MAX_STATE]) {
        let wd = self.weight_decay != 0.0;
        let mom = self.momentum != 0.0;
        let b = &mut *s[0];
        match (wd, mom, k.first, self.nesterov) {
            (false, false, _, _) => sgd_loop::<T, false, false, false, false>(self, p, g, b),
            (true, false, _, _) => sgd_loop::<T, true, false, false, false>(self, p, g, b),
            (false, true, true, false) => sgd_loop::<T, false, true, true, false>(self, p, g, b),
            (false, true, true, true) => sgd_loop::<T, false, true, true, true>(self, p, g, b),
            (false, true, false, false) => sgd_loop::<T, false, true, false, false>(self, p, g, b),
            (false, true, false, true) => sgd_loop::<T, false, true, false, true>(self, p, g, b),
            (true, true, true, false) => sgd_loop::<T, true, true, true, false>(self, p, g, b),
            (true, true, true, true) => sgd_loop::<T, true, true, true, true>(self, p, g, b),
            (true, true, false, false) => sgd_loop::<T, true, true, false, false>(self, p, g, b),
            (true, true, false, true) => sgd_loop::<T, true, true, false, true>(self, p, g, b),
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
        pub fn sgd(h: &super::Sgd, t: u64, p: &mut f64, g: f64, b: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            if h.momentum != 0.0 {
                *b = if t > 1 {
                    h.momentum * *b + (1.0 - h.dampening) * g
                } else {
                    g
                };
                g = if h.nesterov { g + h.momentum * *b } else { *b };
            }
            *p -= h.lr * g;
        }
    }

    fn sgd(
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
        maximize: bool,
    ) -> Sgd {
        Sgd {
            lr: 0.05,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
        }
    }

    #[test]
    fn sgd_matches_reference() {
        for h in [
            sgd(0.0, 0.0, 0.0, false, false),
            sgd(0.0, 0.0, 0.1, false, true),
            sgd(0.9, 0.0, 0.0, false, false),
            sgd(0.9, 0.3, 0.01, false, false),
            sgd(0.9, 0.0, 0.01, true, false),
            sgd(0.5, 0.0, 0.0, true, true),
        ] {
            check_rule(&h, 0.0, |t, p, g, s| reference::sgd(&h, t, p, g, &mut s[0]));
        }
    }

    #[test]
    fn sgd_first_step_overwrites_the_buffer() {
        // On the first step the momentum buffer becomes the gradient whatever it held.
        let h = sgd(0.9, 0.5, 0.0, false, false);
        let (mut p, g, mut b) = ([1.0f32], [2.0f32], [f32::NAN]);
        step(
            &h,
            vec![ParamState {
                param: &mut p,
                grad: &g,
                state: vec![&mut b],
                step: 1,
                carry: None,
            }],
        )
        .unwrap();
        assert_eq!((p[0], b[0]), (1.0 - 0.05 * 2.0, 2.0));
    }
}
