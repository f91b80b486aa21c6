//! Fused, in-place optimizer updates for a whole parameter group in one call.
//!
//! Each rule (SGD, Adagrad, Adadelta, RMSprop, Adam/AdamW, Adamax, NAdam, RAdam) reads a parameter, its gradient and
//! its state buffers once and writes the parameter and the buffers back in the same pass, so
//! a step costs one stream over memory: Adam moves 28 bytes per float32 element.
//!
//! The formulas are PyTorch's (the algorithm boxes of `torch.optim`, with the implementation's
//! details where the box is ambiguous): `maximize` negates the gradient before weight decay,
//! and the scalars that depend only on the step count (bias corrections, Adagrad's decayed
//! rate) are computed in f64 once per tensor and then rounded to the element type, as PyTorch
//! does with its Python-float scalars. Element operations are written in the order of the box
//! (no fused multiply-add), so a float32 result equals NumPy's for the same formula.
//!
//! A group is split into tasks of roughly equal element counts, cutting large tensors and
//! packing small ones together, so a hundred small tensors cost about what one tensor of the
//! same total size does, and a single large tensor still uses every thread.

use std::sync::Mutex;

use super::real::Real;
use crate::threading;

/// The most state buffers any rule keeps per parameter (RMSprop centered with momentum, and
/// Adam with amsgrad, keep three).
pub const MAX_STATE: usize = 3;

/// Elements in a whole group below which the update runs on the calling thread: waking the
/// pool costs more than a few tens of microseconds of streaming saves.
const GRAIN: usize = 1 << 16;

/// Tasks per thread: a few, so that a thread slowed by another process does not hold up the
/// step, while each task stays long enough to stream efficiently.
const TASKS_PER_THREAD: usize = 4;

/// One parameter of a group: its values (updated in place), its gradient, its state buffers
/// (in the order the rule's `state_names` gives, all as long as the parameter) and the
/// 1-based number of this update for the parameter (PyTorch's `state["step"]` after its
/// increment). `carry` is the per-tensor scalar a rule with a `carry_name` keeps from step to
/// step (NAdam's `mu_product`), updated in place; other rules take `None`.
pub struct ParamState<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub state: Vec<&'a mut [T]>,
    pub step: u64,
    pub carry: Option<&'a mut f64>,
}

/// An update rule: its hyperparameters, what state it keeps, and the element loop.
pub trait UpdateRule: Sync {
    /// Scalars derived from the hyperparameters and the step count, in f64.
    type Consts: Copy + Send + Sync;

    /// The optimizer's name, for error messages.
    fn name(&self) -> &'static str;
    /// The state buffers each parameter must bring, in order.
    fn state_names(&self) -> &'static [&'static str];
    /// Refuse hyperparameters PyTorch refuses.
    fn validate(&self) -> Result<(), String>;
    /// The per-tensor scalar, besides the step count, that the rule carries from one step to
    /// the next (NAdam's product of momentum coefficients), if it keeps one.
    fn carry_name(&self) -> Option<&'static str> {
        None
    }
    /// The per-tensor scalars for update number `step` (1-based). `carry` holds the carried
    /// scalar before this update (1 for a rule without one) and is left holding it after.
    fn consts(&self, step: u64, carry: &mut f64) -> Self::Consts;
    /// Update a run of one tensor in place: `state` holds `state_names().len()` slices as long
    /// as `param` (the rest are empty).
    fn update<T: Real>(
        &self,
        k: &Self::Consts,
        param: &mut [T],
        grad: &[T],
        state: &mut [&mut [T]; MAX_STATE],
    );
}

// ---------------------------------------------------------------------------------------------
// SIMD dispatch. The element loops are plain Rust that LLVM vectorises. Inlining the same loop
// (every function on the way is `#[inline(always)]`) into a function compiled with AVX-512 or
// AVX2 enabled lets it use the wide registers on CPUs that have them, while the wheel itself
// targets baseline x86-64. A closure would not do: LLVM declines to inline a large closure
// called from three places, and the loop would stay SSE2 everywhere.

/// Work whose `run` is inlined into a function compiled for a wider vector unit.
trait SimdBody {
    fn run(self);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512<B: SimdBody>(body: B) {
    body.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<B: SimdBody>(body: B) {
    body.run()
}

/// Run `body` compiled for the widest vector unit this CPU has.
fn run_best_simd<B: SimdBody>(body: B) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { run_avx512(body) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { run_avx2(body) };
        }
    }
    body.run()
}

#[inline(always)]
fn cast<T: Real>(v: f64) -> T {
    T::from_f64(v)
}

/// `-1` when maximizing (the gradient is negated first, as PyTorch's implementation does).
fn grad_sign(maximize: bool) -> f64 {
    if maximize {
        -1.0
    } else {
        1.0
    }
}

fn check_finite(op: &str, pairs: &[(&str, f64)]) -> Result<(), String> {
    for (name, v) in pairs {
        if v.is_nan() {
            return Err(format!("{op}: Invalid {name}: {v}"));
        }
    }
    Ok(())
}

fn check_nonnegative(op: &str, pairs: &[(&str, f64)]) -> Result<(), String> {
    check_finite(op, pairs)?;
    for (name, v) in pairs {
        if *v < 0.0 {
            return Err(format!("{op}: Invalid {name}: {v}"));
        }
    }
    Ok(())
}

fn check_unit_interval(op: &str, name: &str, v: f64, closed_right: bool) -> Result<(), String> {
    let ok = v >= 0.0 && (v < 1.0 || (closed_right && v == 1.0));
    if ok {
        Ok(())
    } else {
        Err(format!("{op}: Invalid {name}: {v}"))
    }
}

// ---------------------------------------------------------------------------------------------
// SGD

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

// ---------------------------------------------------------------------------------------------
// Adagrad

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

// ---------------------------------------------------------------------------------------------
// Adadelta

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

// ---------------------------------------------------------------------------------------------
// RMSprop

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

// ---------------------------------------------------------------------------------------------
// Adam and AdamW

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
        let op = self.name();
        check_nonnegative(
            op,
            &[
                ("learning rate", self.lr),
                ("epsilon value", self.eps),
                ("weight_decay value", self.weight_decay),
            ],
        )?;
        check_unit_interval(op, "beta parameter at index 0", self.beta1, false)?;
        check_unit_interval(op, "beta parameter at index 1", self.beta2, false)
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

// ---------------------------------------------------------------------------------------------
// Adamax

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

/// The checks Adam-like rules share (PyTorch's messages).
fn check_adam_like(
    op: &str,
    lr: f64,
    eps: f64,
    weight_decay: f64,
    betas: (f64, f64),
) -> Result<(), String> {
    check_nonnegative(
        op,
        &[
            ("learning rate", lr),
            ("epsilon value", eps),
            ("weight_decay value", weight_decay),
        ],
    )?;
    check_unit_interval(op, "beta parameter at index 0", betas.0, false)?;
    check_unit_interval(op, "beta parameter at index 1", betas.1, false)
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

// ---------------------------------------------------------------------------------------------
// NAdam

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

// ---------------------------------------------------------------------------------------------
// RAdam

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

// ---------------------------------------------------------------------------------------------
// The multi-tensor driver.

/// A contiguous run of one tensor, with the scalars of that tensor's step.
struct Piece<'a, T, K> {
    consts: K,
    param: &'a mut [T],
    grad: &'a [T],
    state: [&'a mut [T]; MAX_STATE],
}

impl<'a, T: Real, K: Copy> Piece<'a, T, K> {
    /// Cut the first `len` elements off into their own piece.
    fn split_front(&mut self, len: usize) -> Self {
        let (p_head, p_tail) = std::mem::take(&mut self.param).split_at_mut(len);
        let (g_head, g_tail) = self.grad.split_at(len);
        self.param = p_tail;
        self.grad = g_tail;
        let mut state: [&'a mut [T]; MAX_STATE] = Default::default();
        for (head, buf) in state.iter_mut().zip(self.state.iter_mut()) {
            if !buf.is_empty() {
                let (h, t) = std::mem::take(buf).split_at_mut(len);
                *head = h;
                *buf = t;
            }
        }
        Piece {
            consts: self.consts,
            param: p_head,
            grad: g_head,
            state,
        }
    }

    fn run<R: UpdateRule<Consts = K>>(&mut self, rule: &R) {
        run_best_simd(RunPiece { rule, piece: self });
    }
}

/// One piece's update, as the body the SIMD dispatch compiles for each vector width.
struct RunPiece<'r, 'p, 'a, R: UpdateRule, T> {
    rule: &'r R,
    piece: &'p mut Piece<'a, T, R::Consts>,
}

impl<R: UpdateRule, T: Real> SimdBody for RunPiece<'_, '_, '_, R, T> {
    #[inline(always)]
    fn run(self) {
        let p = self.piece;
        self.rule.update(&p.consts, p.param, p.grad, &mut p.state);
    }
}

fn check_group<T, R: UpdateRule>(rule: &R, group: &[ParamState<'_, T>]) -> Result<(), String> {
    let op = rule.name();
    let names = rule.state_names();
    for (i, ps) in group.iter().enumerate() {
        let n = ps.param.len();
        if ps.grad.len() != n {
            return Err(format!(
                "{op}: grad {i} has {} elements but param {i} has {n}",
                ps.grad.len()
            ));
        }
        if ps.state.len() != names.len() {
            return Err(format!(
                "{op}: param {i} brings {} state buffers but {op} needs {} ({})",
                ps.state.len(),
                names.len(),
                names.join(", ")
            ));
        }
        for (buf, name) in ps.state.iter().zip(names) {
            if buf.len() != n {
                return Err(format!(
                    "{op}: {name} {i} has {} elements but param {i} has {n}",
                    buf.len()
                ));
            }
        }
        if ps.step == 0 {
            return Err(format!("{op}: step count of param {i} must be at least 1"));
        }
        if let (Some(name), None) = (rule.carry_name(), &ps.carry) {
            return Err(format!(
                "{op}: param {i} brings no {name}, which {op} needs"
            ));
        }
    }
    Ok(())
}

/// Apply one update of `rule` to every parameter of `group`, in place, in parallel over
/// elements when the group is large enough.
pub fn step<T: Real, R: UpdateRule>(rule: &R, group: Vec<ParamState<'_, T>>) -> Result<(), String> {
    rule.validate()?;
    check_group(rule, &group)?;
    let total: usize = group.iter().map(|ps| ps.param.len()).sum();
    // Parameters of a group almost always share their step count (and carried scalar):
    // derive their scalars once.
    let mut last: Option<(u64, u64, R::Consts, f64)> = None;
    let mut consts_for = |step: u64, carry: &mut f64| match last {
        Some((s, c, k, after)) if s == step && c == carry.to_bits() => {
            *carry = after;
            k
        }
        _ => {
            let before = carry.to_bits();
            let k = rule.consts(step, carry);
            last = Some((step, before, k, *carry));
            k
        }
    };
    let mut pieces: Vec<Piece<'_, T, R::Consts>> = group
        .into_iter()
        .map(|ps| {
            let mut state: [&mut [T]; MAX_STATE] = Default::default();
            for (slot, buf) in state.iter_mut().zip(ps.state) {
                *slot = buf;
            }
            let mut carry = ps.carry.as_deref().copied().unwrap_or(1.0);
            let consts = consts_for(ps.step, &mut carry);
            if let Some(slot) = ps.carry {
                *slot = carry;
            }
            Piece {
                consts,
                param: ps.param,
                grad: ps.grad,
                state,
            }
        })
        .collect();

    // Small groups never ask for the pool (that costs a lock and an atomic each time).
    let threads = if total <= GRAIN {
        1
    } else {
        threading::num_threads()
    };
    if threads == 1 {
        for piece in &mut pieces {
            piece.run(rule);
        }
        return Ok(());
    }
    let tasks: Vec<Mutex<Vec<Piece<T, _>>>> = pack_tasks(
        pieces,
        total.div_ceil(threads * TASKS_PER_THREAD).max(GRAIN / 2),
    )
    .into_iter()
    .map(Mutex::new)
    .collect();
    threading::for_each_task(tasks.len(), |t| {
        let mut task = tasks[t].lock().unwrap_or_else(|e| e.into_inner());
        for piece in task.iter_mut() {
            piece.run(rule);
        }
    });
    Ok(())
}

/// Deal the pieces into tasks of about `task_len` elements each, in order: a long tensor is
/// cut across several tasks and many short ones share a task.
fn pack_tasks<'a, T: Real, K: Copy>(
    pieces: Vec<Piece<'a, T, K>>,
    task_len: usize,
) -> Vec<Vec<Piece<'a, T, K>>> {
    let mut tasks = Vec::new();
    let mut current = Vec::new();
    let mut room = task_len;
    for mut piece in pieces {
        while piece.param.len() > room {
            let head = piece.split_front(room);
            current.push(head);
            tasks.push(std::mem::take(&mut current));
            room = task_len;
        }
        if !piece.param.is_empty() {
            room -= piece.param.len();
            current.push(piece);
        }
        if room == 0 {
            tasks.push(std::mem::take(&mut current));
            room = task_len;
        }
    }
    if !current.is_empty() {
        tasks.push(current);
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64, scale: f64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| (rng.random::<f64>() - 0.5) * scale)
            .collect()
    }

    /// Scalar references, written straight from PyTorch's algorithm boxes in f64.
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

        pub fn adagrad(h: &super::Adagrad, t: u64, p: &mut f64, g: f64, sum: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            let clr = h.lr / (1.0 + (t as f64 - 1.0) * h.lr_decay);
            *sum += g * g;
            *p -= clr * g / (sum.sqrt() + h.eps);
        }

        pub fn adadelta(h: &super::Adadelta, p: &mut f64, g: f64, v: &mut f64, u: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            *v = h.rho * *v + (1.0 - h.rho) * g * g;
            let delta = (*u + h.eps).sqrt() / (*v + h.eps).sqrt() * g;
            *u = h.rho * *u + (1.0 - h.rho) * delta * delta;
            *p -= h.lr * delta;
        }

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

        pub fn adamax(h: &super::Adamax, t: u64, p: &mut f64, g: f64, m: &mut f64, u: &mut f64) {
            let mut g = if h.maximize { -g } else { g };
            g += h.weight_decay * *p;
            *m = h.beta1 * *m + (1.0 - h.beta1) * g;
            *u = (h.beta2 * *u).max(g.abs() + h.eps);
            *p -= h.lr / (1.0 - h.beta1.powi(t as i32)) * *m / *u;
        }

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
    fn check_rule<R: UpdateRule + std::fmt::Debug>(
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

    #[test]
    fn new_rules_refuse_bad_hyperparameters() {
        let bad = Adamax {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 1.0,
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
        };
        let err = step::<f32, _>(&bad, vec![]).unwrap_err();
        assert!(
            err.contains("adamax: Invalid beta parameter at index 1: 1"),
            "{err}"
        );
        let bad = Nadam {
            momentum_decay: -1.0,
            ..nadam(0.0, false, false)
        };
        let err = step::<f32, _>(&bad, vec![]).unwrap_err();
        assert!(err.contains("Invalid momentum_decay value: -1"), "{err}");
        let bad = Radam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: f64::NAN,
            weight_decay: 0.0,
            decoupled_weight_decay: true,
            maximize: false,
        };
        let err = step::<f32, _>(&bad, vec![]).unwrap_err();
        assert!(err.contains("radam: Invalid epsilon value: NaN"), "{err}");
    }

    /// The result must not depend on how a group is cut into tasks: one long tensor, updated
    /// in parallel, equals the same values split into many short tensors, bit for bit.
    #[test]
    fn packing_and_threads_do_not_change_results() {
        let h = Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            amsgrad: true,
            decoupled_weight_decay: false,
            maximize: false,
        };
        let n = 3 * GRAIN + 12345;
        let p0: Vec<f32> = random(n, 1, 2.0).into_iter().map(|v| v as f32).collect();
        let g: Vec<f32> = random(n, 2, 1.0).into_iter().map(|v| v as f32).collect();
        let mut whole = p0.clone();
        let mut whole_state = vec![vec![0.0f32; n]; 3];
        let mut split = p0.clone();
        let mut split_state = vec![vec![0.0f32; n]; 3];
        for t in 1..=3 {
            let group = vec![ParamState {
                param: whole.as_mut_slice(),
                grad: g.as_slice(),
                state: whole_state.iter_mut().map(|b| b.as_mut_slice()).collect(),
                step: t,
                carry: None,
            }];
            step(&h, group).unwrap();

            // Uneven sizes, including ones larger than a task and empty ones.
            let sizes = [1usize, 0, 999, GRAIN + 3, 17, 5000, 0, 2 * GRAIN];
            let mut group = Vec::new();
            let (mut p_rest, mut g_rest) = (split.as_mut_slice(), g.as_slice());
            let [s0, s1, s2] = &mut split_state[..] else {
                unreachable!()
            };
            let (mut a, mut b, mut c) = (s0.as_mut_slice(), s1.as_mut_slice(), s2.as_mut_slice());
            for &len in sizes.iter().chain(std::iter::once(&usize::MAX)) {
                let len = len.min(p_rest.len());
                let (ph, pt) = std::mem::take(&mut p_rest).split_at_mut(len);
                let (gh, gt) = g_rest.split_at(len);
                let (ah, at) = std::mem::take(&mut a).split_at_mut(len);
                let (bh, bt) = std::mem::take(&mut b).split_at_mut(len);
                let (ch, ct) = std::mem::take(&mut c).split_at_mut(len);
                group.push(ParamState {
                    param: ph,
                    grad: gh,
                    state: vec![ah, bh, ch],
                    step: t,
                    carry: None,
                });
                (p_rest, g_rest, a, b, c) = (pt, gt, at, bt, ct);
            }
            step(&h, group).unwrap();
        }
        assert!(whole
            .iter()
            .zip(&split)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(whole_state, split_state);
    }

    #[test]
    fn tasks_cover_every_element_once() {
        let lens = [5usize, 0, 300, 1, 64, 64, 1000, 3];
        let mut params: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.0; n]).collect();
        let grads: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.0; n]).collect();
        let pieces: Vec<Piece<'_, f32, ()>> = params
            .iter_mut()
            .zip(&grads)
            .map(|(p, g)| Piece {
                consts: (),
                param: p.as_mut_slice(),
                grad: g.as_slice(),
                state: Default::default(),
            })
            .collect();
        let tasks = pack_tasks(pieces, 100);
        let sizes: Vec<usize> = tasks
            .iter()
            .map(|t| t.iter().map(|p| p.param.len()).sum())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), lens.iter().sum::<usize>());
        assert!(
            sizes[..sizes.len() - 1].iter().all(|&s| s == 100),
            "{sizes:?}"
        );
        for task in tasks {
            for piece in task {
                piece.param.iter_mut().for_each(|x| *x += 1.0);
            }
        }
        assert!(params.iter().flatten().all(|&x| x == 1.0));
    }

    #[test]
    fn bad_groups_are_errors() {
        let h = Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
            maximize: false,
        };
        let (mut p, g, mut m, mut v) = (vec![0.0f32; 4], vec![0.0f32; 3], [0.0f32; 4], [0.0; 4]);
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
        assert!(
            err.contains("grad 0 has 3 elements but param 0 has 4"),
            "{err}"
        );

        let g = vec![0.0f32; 4];
        let err = step(
            &h,
            vec![ParamState {
                param: &mut p,
                grad: &g,
                state: vec![&mut m],
                step: 1,
                carry: None,
            }],
        )
        .unwrap_err();
        assert!(err.contains("exp_avg, exp_avg_sq"), "{err}");

        let err = step(
            &h,
            vec![ParamState {
                param: &mut p,
                grad: &g,
                state: vec![&mut m, &mut v],
                step: 0,
                carry: None,
            }],
        )
        .unwrap_err();
        assert!(err.contains("at least 1"), "{err}");

        let bad = Adam { beta1: 1.0, ..h };
        let err = step::<f32, _>(&bad, vec![]).unwrap_err();
        assert!(err.contains("beta parameter at index 0"), "{err}");
        let bad = Sgd {
            lr: 0.1,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: true,
            maximize: false,
        };
        assert!(step::<f32, _>(&bad, vec![])
            .unwrap_err()
            .contains("Nesterov"));
        let bad = Adagrad {
            lr: -1.0,
            lr_decay: 0.0,
            weight_decay: 0.0,
            eps: 1e-10,
            maximize: false,
        };
        assert!(step::<f32, _>(&bad, vec![])
            .unwrap_err()
            .contains("Invalid learning rate: -1"));
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
