//! Fused optimizer steps over a whole parameter group: `sgd_step`, `adagrad_step`,
//! `adadelta_step`, `rmsprop_step` and `adam_step` (Adam and AdamW).
//!
//! Each takes lists of arrays (params, grads and one list per state buffer, index `i` of every
//! list belonging to parameter `i`) and `steps`, an int64 array counting the updates each
//! parameter has had, checks every array, then releases the GIL once for the whole group.
//! Params and state buffers are updated in place and `steps` is incremented (as PyTorch's
//! fused kernels increment their `state_steps`), so bias corrections use the new count.

use numpy::npyffi::{_PyArray_GET_ITEM_DATA, NPY_ARRAY_WRITEABLE};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use super::common::{aligned_input, kernel_result, value_error};
use crate::kernels::optim::{self, Adadelta, Adagrad, Adam, ParamState, Rmsprop, Sgd, UpdateRule};
use crate::kernels::real::Real;

type Arrays<'py> = Vec<Bound<'py, PyAny>>;

/// `(3, 4)`, as Python prints a shape.
fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", dims.join(", "))
        }
    }
}

fn dtype_str(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| format!("a {} (not a numpy array)", obj.get_type()))
}

/// `list[i]` as an array of the group's dtype `T` that is C-contiguous, else a
/// `TypeError`/`ValueError` naming it.
fn typed_array<'py, T: Element>(
    op: &str,
    list: &str,
    i: usize,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let a = obj.cast::<PyArrayDyn<T>>().map_err(|_| {
        let want = if std::mem::size_of::<T>() == 4 {
            "float32"
        } else {
            "float64"
        };
        PyTypeError::new_err(format!(
            "{op}: {list}[{i}] must be a {want} numpy array like params[0], got {}",
            dtype_str(obj)
        ))
    })?;
    if !a.is_c_contiguous() {
        return Err(value_error(format!(
            "{op}: {list}[{i}] (shape {}) must be C-contiguous",
            shape_str(a.shape())
        )));
    }
    Ok(a.clone())
}

fn same_shape<T: Element>(
    op: &str,
    list: &str,
    i: usize,
    a: &Bound<'_, PyArrayDyn<T>>,
    param_shape: &[usize],
) -> PyResult<()> {
    if a.shape() == param_shape {
        return Ok(());
    }
    Err(value_error(format!(
        "{op}: {list}[{i}] has shape {} but params[{i}] has shape {}",
        shape_str(a.shape()),
        shape_str(param_shape)
    )))
}

fn is_writeable<T: Element>(a: &Bound<'_, PyArrayDyn<T>>) -> bool {
    // SAFETY: `a` is a live ndarray; its fields may be read while we hold the GIL.
    unsafe { (*_PyArray_GET_ITEM_DATA(a.as_array_ptr())).flags & NPY_ARRAY_WRITEABLE != 0 }
}

/// One checked array of the step and where it came from.
struct Operand<'py, T> {
    array: Bound<'py, PyArrayDyn<T>>,
    list: &'static str,
    index: usize,
    mutable: bool,
}

/// The bytes an array covers, for the overlap check.
struct Span {
    start: usize,
    end: usize,
    mutable: bool,
    /// `list[index]`, or just `list` when `index` is `None`.
    list: &'static str,
    index: Option<usize>,
}

impl Span {
    fn of<T: Element>(o: &Operand<'_, T>) -> Self {
        let start = o.array.data() as usize;
        Span {
            start,
            end: start + o.array.len() * std::mem::size_of::<T>(),
            mutable: o.mutable,
            list: o.list,
            index: Some(o.index),
        }
    }

    fn label(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.list),
            None => self.list.to_string(),
        }
    }
}

/// Refuse a step in which an array that is written shares memory with any other array of
/// the step (the same buffer passed twice, a gradient that is a view of its parameter, ...).
/// This is what makes the unchecked slices below sound.
fn check_no_overlap(op: &str, mut spans: Vec<Span>) -> PyResult<()> {
    spans.retain(|s| s.end > s.start);
    spans.sort_unstable_by_key(|s| s.start);
    // Sweep in order of start address, remembering how far the arrays seen so far reach.
    let (mut reach_any, mut reach_mut) = (0usize, 0usize);
    let (mut last_any, mut last_mut) = (0usize, 0usize);
    for (k, s) in spans.iter().enumerate() {
        let clash = if s.mutable && s.start < reach_any {
            Some(last_any)
        } else if s.start < reach_mut {
            Some(last_mut)
        } else {
            None
        };
        if let Some(other) = clash {
            return Err(value_error(format!(
                "{op}: {} shares memory with {}; every array of a step must be distinct",
                s.label(),
                spans[other].label()
            )));
        }
        if s.end > reach_any {
            (reach_any, last_any) = (s.end, k);
        }
        if s.mutable && s.end > reach_mut {
            (reach_mut, last_mut) = (s.end, k);
        }
    }
    Ok(())
}

/// The step counts: a writeable, C-contiguous 1-D int64 array with one entry per param.
fn steps_array<'py>(
    op: &str,
    steps: &Bound<'py, PyAny>,
    n: usize,
) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
    let a = steps.cast::<PyArrayDyn<i64>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{op}: steps must be an int64 numpy array with one count per param, got {}",
            dtype_str(steps)
        ))
    })?;
    if a.shape() != [n] {
        return Err(value_error(format!(
            "{op}: steps has shape {} but there are {n} params; expected shape ({n},)",
            shape_str(a.shape())
        )));
    }
    if !a.is_c_contiguous() || !is_writeable(a) {
        return Err(value_error(format!(
            "{op}: steps must be C-contiguous and writeable (it is incremented in place)"
        )));
    }
    Ok(a.clone())
}

/// The lists of one call, before the dtype is known.
struct GroupArgs<'a, 'py> {
    op: &'static str,
    params: &'a Arrays<'py>,
    grads: &'a Arrays<'py>,
    /// Every state list the function accepts: the kernel's name of the buffer, the argument
    /// name, and the list (`None` when not given).
    states: Vec<(&'static str, &'static str, Option<&'a Arrays<'py>>)>,
    steps: &'a Bound<'py, PyAny>,
}

impl<'py> GroupArgs<'_, 'py> {
    /// Check list lengths and pick the state lists the rule needs, in its order.
    fn state_lists<R: UpdateRule>(&self, rule: &R) -> PyResult<Vec<(&'static str, &Arrays<'py>)>> {
        let n = self.params.len();
        let op = self.op;
        if self.grads.len() != n {
            return Err(value_error(format!(
                "{op}: got {} grads for {n} params; expected one per param",
                self.grads.len()
            )));
        }
        let mut lists = Vec::new();
        for name in rule.state_names() {
            let (_, list_name, list) = self
                .states
                .iter()
                .find(|(state, _, _)| state == name)
                .copied()
                .ok_or_else(|| value_error(format!("{op}: no list for state {name}")))?;
            let list = list.ok_or_else(|| {
                value_error(format!(
                    "{op}: {list_name} must be given with these hyperparameters"
                ))
            })?;
            if list.len() != n {
                return Err(value_error(format!(
                    "{op}: got {} {list_name} for {n} params; expected one per param",
                    list.len()
                )));
            }
            lists.push((list_name, list));
        }
        Ok(lists)
    }

    fn run<R: UpdateRule>(&self, py: Python<'py>, rule: &R) -> PyResult<()> {
        kernel_result(rule.validate())?;
        let lists = self.state_lists(rule)?;
        let steps = steps_array(self.op, self.steps, self.params.len())?;
        let Some(first) = self.params.first() else {
            return Ok(());
        };
        if first.cast::<PyArrayDyn<f32>>().is_ok() {
            self.run_typed::<f32, R>(py, rule, &lists, &steps)
        } else if first.cast::<PyArrayDyn<f64>>().is_ok() {
            self.run_typed::<f64, R>(py, rule, &lists, &steps)
        } else {
            Err(PyTypeError::new_err(format!(
                "{}: params[0] must be a float32 or float64 numpy array, got {}",
                self.op,
                dtype_str(first)
            )))
        }
    }

    fn run_typed<T: Real + Element, R: UpdateRule>(
        &self,
        py: Python<'py>,
        rule: &R,
        lists: &[(&'static str, &Arrays<'py>)],
        steps: &Bound<'py, PyArrayDyn<i64>>,
    ) -> PyResult<()> {
        let op = self.op;
        let n = self.params.len();
        let k = lists.len();
        let mut operands: Vec<Operand<'py, T>> = Vec::with_capacity(n * (2 + k));
        for i in 0..n {
            let p = typed_array::<T>(op, "params", i, &self.params[i])?;
            // Gradients are only read: a misaligned one is copied (params and state buffers
            // are updated in place, so those must be aligned already).
            let g = aligned_input(typed_array::<T>(op, "grads", i, &self.grads[i])?)?;
            same_shape(op, "grads", i, &g, p.shape())?;
            operands.push(Operand {
                array: p,
                list: "params",
                index: i,
                mutable: true,
            });
            operands.push(Operand {
                array: g,
                list: "grads",
                index: i,
                mutable: false,
            });
            for (list_name, list) in lists {
                let s = typed_array::<T>(op, list_name, i, &list[i])?;
                same_shape(op, list_name, i, &s, operands[i * (2 + k)].array.shape())?;
                operands.push(Operand {
                    array: s,
                    list: list_name,
                    index: i,
                    mutable: true,
                });
            }
        }
        for o in operands.iter().filter(|o| o.mutable) {
            if !is_writeable(&o.array) {
                return Err(value_error(format!(
                    "{op}: {}[{}] is read-only and cannot be updated in place",
                    o.list, o.index
                )));
            }
        }
        let mut spans: Vec<Span> = operands.iter().map(Span::of).collect();
        let steps_start = steps.data() as usize;
        spans.push(Span {
            start: steps_start,
            end: steps_start + n * std::mem::size_of::<i64>(),
            mutable: true,
            list: "steps",
            index: None,
        });
        check_no_overlap(op, spans)?;

        // SAFETY (for every unchecked slice below): each array is C-contiguous and of the
        // dtype its slice has (checked above), `as_slice*` checks alignment, no array that is
        // written shares memory with any other array of the step (`check_no_overlap`), and
        // `operands` and `steps` hold a reference to each array until the kernel returns, so
        // none is freed. As with NumPy's own kernels that release the GIL, other threads must
        // not write these arrays meanwhile.
        let counts = unsafe { steps.as_slice_mut() }
            .map_err(|_| value_error(format!("{op}: steps is not aligned")))?;
        // The count is incremented below: i64::MAX would wrap to a negative count.
        if let Some(i) = counts.iter().position(|&c| !(0..i64::MAX).contains(&c)) {
            return Err(value_error(format!(
                "{op}: steps[{i}] is {}; step counts must be in 0..{}",
                counts[i],
                i64::MAX
            )));
        }
        let slice_err = |o: &Operand<'py, T>| {
            value_error(format!("{op}: {}[{}] is not aligned", o.list, o.index))
        };
        let mut group = Vec::with_capacity(n);
        for (chunk, &count) in operands.chunks(2 + k).zip(counts.iter()) {
            let [p, g, states @ ..] = chunk else {
                unreachable!("chunks hold a param, its grad and its state buffers")
            };
            let state = states
                .iter()
                .map(|s| unsafe { s.array.as_slice_mut() }.map_err(|_| slice_err(s)))
                .collect::<PyResult<Vec<_>>>()?;
            group.push(ParamState {
                param: unsafe { p.array.as_slice_mut() }.map_err(|_| slice_err(p))?,
                grad: unsafe { g.array.as_slice() }.map_err(|_| slice_err(g))?,
                state,
                step: count as u64 + 1,
            });
        }
        kernel_result(py.detach(|| optim::step(rule, group)))?;
        // Count the step only once it has been taken (the kernel checks before it writes).
        counts.iter_mut().for_each(|c| *c += 1);
        Ok(())
    }
}

/// SGD, in place over a group: `momentum_buffers` is needed when `momentum != 0`, and the
/// buffer of a parameter whose count in `steps` is 0 is overwritten with its first gradient.
#[pyfunction]
#[pyo3(signature = (params, grads, momentum_buffers, steps, lr, momentum=0.0, dampening=0.0,
                    weight_decay=0.0, nesterov=false, maximize=false))]
#[allow(clippy::too_many_arguments)]
fn sgd_step<'py>(
    py: Python<'py>,
    params: Arrays<'py>,
    grads: Arrays<'py>,
    momentum_buffers: Option<Arrays<'py>>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<()> {
    let rule = Sgd {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
    };
    GroupArgs {
        op: "sgd_step",
        params: &params,
        grads: &grads,
        states: vec![(
            "momentum_buffer",
            "momentum_buffers",
            momentum_buffers.as_ref(),
        )],
        steps,
    }
    .run(py, &rule)
}

/// Adagrad, in place over a group; `state_sums` start at `initial_accumulator_value`.
#[pyfunction]
#[pyo3(signature = (params, grads, state_sums, steps, lr, lr_decay=0.0, weight_decay=0.0,
                    eps=1e-10, maximize=false))]
#[allow(clippy::too_many_arguments)]
fn adagrad_step<'py>(
    py: Python<'py>,
    params: Arrays<'py>,
    grads: Arrays<'py>,
    state_sums: Arrays<'py>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    let rule = Adagrad {
        lr,
        lr_decay,
        weight_decay,
        eps,
        maximize,
    };
    GroupArgs {
        op: "adagrad_step",
        params: &params,
        grads: &grads,
        states: vec![("sum", "state_sums", Some(&state_sums))],
        steps,
    }
    .run(py, &rule)
}

/// Adadelta, in place over a group (the step counts are checked but not used).
#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, acc_deltas, steps, lr=1.0, rho=0.9, eps=1e-6,
                    weight_decay=0.0, maximize=false))]
#[allow(clippy::too_many_arguments)]
fn adadelta_step<'py>(
    py: Python<'py>,
    params: Arrays<'py>,
    grads: Arrays<'py>,
    square_avgs: Arrays<'py>,
    acc_deltas: Arrays<'py>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let rule = Adadelta {
        lr,
        rho,
        eps,
        weight_decay,
        maximize,
    };
    GroupArgs {
        op: "adadelta_step",
        params: &params,
        grads: &grads,
        states: vec![
            ("square_avg", "square_avgs", Some(&square_avgs)),
            ("acc_delta", "acc_deltas", Some(&acc_deltas)),
        ],
        steps,
    }
    .run(py, &rule)
}

/// RMSprop, in place over a group: `momentum_buffers` is needed when `momentum > 0` and
/// `grad_avgs` when `centered` (the step counts are checked but not used).
#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, momentum_buffers, grad_avgs, steps, lr,
                    alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=false,
                    maximize=false))]
#[allow(clippy::too_many_arguments)]
fn rmsprop_step<'py>(
    py: Python<'py>,
    params: Arrays<'py>,
    grads: Arrays<'py>,
    square_avgs: Arrays<'py>,
    momentum_buffers: Option<Arrays<'py>>,
    grad_avgs: Option<Arrays<'py>>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    let rule = Rmsprop {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    };
    GroupArgs {
        op: "rmsprop_step",
        params: &params,
        grads: &grads,
        states: vec![
            ("square_avg", "square_avgs", Some(&square_avgs)),
            (
                "momentum_buffer",
                "momentum_buffers",
                momentum_buffers.as_ref(),
            ),
            ("grad_avg", "grad_avgs", grad_avgs.as_ref()),
        ],
        steps,
    }
    .run(py, &rule)
}

/// Adam, or AdamW with `decoupled_weight_decay=True`, in place over a group:
/// `max_exp_avg_sqs` is needed when `amsgrad`.
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=false,
                    decoupled_weight_decay=false, maximize=false))]
#[allow(clippy::too_many_arguments)]
fn adam_step<'py>(
    py: Python<'py>,
    params: Arrays<'py>,
    grads: Arrays<'py>,
    exp_avgs: Arrays<'py>,
    exp_avg_sqs: Arrays<'py>,
    max_exp_avg_sqs: Option<Arrays<'py>>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<()> {
    let rule = Adam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        amsgrad,
        decoupled_weight_decay,
        maximize,
    };
    GroupArgs {
        op: if decoupled_weight_decay {
            "adamw_step"
        } else {
            "adam_step"
        },
        params: &params,
        grads: &grads,
        states: vec![
            ("exp_avg", "exp_avgs", Some(&exp_avgs)),
            ("exp_avg_sq", "exp_avg_sqs", Some(&exp_avg_sqs)),
            (
                "max_exp_avg_sq",
                "max_exp_avg_sqs",
                max_exp_avg_sqs.as_ref(),
            ),
        ],
        steps,
    }
    .run(py, &rule)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(adagrad_step, m)?)?;
    m.add_function(wrap_pyfunction!(adadelta_step, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(adam_step, m)?)?;
    Ok(())
}
