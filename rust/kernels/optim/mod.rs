//! Fused, in-place optimizer updates for a whole parameter group in one call.
//!
//! Each rule (SGD, Adagrad, Adadelta, RMSprop, Adam/AdamW, Adamax, NAdam, RAdam) reads a
//! parameter, its gradient and its state buffers once and writes the parameter and the buffers
//! back in the same pass, so a step costs one stream over memory: Adam moves 28 bytes per
//! float32 element.
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
//!
//! Layout: this file holds what every rule shares: the [`UpdateRule`] trait, the SIMD
//! dispatch, the hyperparameter checks, and the multi-tensor driver [`step`] with its task
//! packing. Each rule lives in its own file (`sgd.rs`, `adagrad.rs`, `adadelta.rs`,
//! `rmsprop.rs`, `adam.rs`, `adamax.rs`, `nadam.rs`, `radam.rs`) with its hyperparameters,
//! per-step scalars, element loop and unit tests against a scalar reference; `test_support.rs`
//! holds the harness those tests share. Every rule is re-exported here, so callers name it
//! `optim::Adam` whatever file it lives in.

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod nadam;
mod radam;
mod rmsprop;
mod sgd;
#[cfg(test)]
mod test_support;

pub use adadelta::Adadelta;
pub use adagrad::{Adagrad, AdagradConsts};
pub use adam::{Adam, AdamConsts};
pub use adamax::{Adamax, AdamaxConsts};
pub use nadam::{Nadam, NadamConsts};
pub use radam::{Radam, RadamConsts};
pub use rmsprop::Rmsprop;
pub use sgd::{Sgd, SgdConsts};

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
    use super::test_support::random;
    use super::*;

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
            lr: 0.02,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: -1.0,
            decoupled_weight_decay: false,
            maximize: false,
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
}
