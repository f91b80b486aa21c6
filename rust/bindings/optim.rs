//! Fused optimizer steps over a whole parameter group: `sgd_step`, `adagrad_step`,
//! `adadelta_step`, `rmsprop_step`, `adam_step` (Adam and AdamW), `adamax_step`, `nadam_step`
//! and `radam_step`.
//!
//! Each takes lists of arrays (params, grads and one list per state buffer, index `i` of every
//! list belonging to parameter `i`) and `steps`, an int64 array counting the updates each
//! parameter has had, checks every array, then makes one kernel call for the whole group,
//! with the GIL released unless the group is tiny. Params and state buffers are updated in
//! place and `steps` is incremented (as PyTorch's fused kernels increment their
//! `state_steps`), so bias corrections use the new count. NAdam also takes `mu_products`, a
//! float64 array of one running product per parameter, updated in place the same way.
//!
//! A training step calls this every few microseconds for a small model, so the checks are
//! written to be cheap: lists and tuples are read in place, a dtype is recognised by one
//! pointer comparison when it can be, and memory overlap is checked with one sort of
//! address ranges instead of per-array borrow bookkeeping.

use numpy::npyffi::{_PyArray_GET_ITEM_DATA, PyArray_Check, NPY_ARRAY_WRITEABLE};
use numpy::{Element, PyArrayDescr, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::common::{aligned_input, kernel_result, value_error};
use crate::kernels::optim::{
    self, Adadelta, Adagrad, Adam, Adamax, Nadam, ParamState, Radam, Rmsprop, Sgd, UpdateRule,
};
use crate::kernels::real::Real;

/// Groups with fewer elements run without releasing the GIL: their update takes a few
/// microseconds, less than releasing and re-taking the GIL can cost (another thread holding
/// it may keep this one waiting for its whole switch interval), as NumPy does for small work.
const RELEASE_GIL_ABOVE: usize = 1 << 14;

/// A Python list or tuple of arrays, read in place (any other sequence is copied first).
enum Seq<'py> {
    List(Bound<'py, PyList>),
    Tuple(Bound<'py, PyTuple>),
}

impl<'py> Seq<'py> {
    fn new(op: &str, name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(list) = obj.cast::<PyList>() {
            return Ok(Seq::List(list.clone()));
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            return Ok(Seq::Tuple(tuple.clone()));
        }
        let items: Vec<Bound<'py, PyAny>> = obj.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{op}: {name} must be a list of numpy arrays, got {}",
                obj.get_type()
            ))
        })?;
        Ok(Seq::Tuple(PyTuple::new(obj.py(), items)?))
    }

    fn len(&self) -> usize {
        match self {
            Seq::List(l) => l.len(),
            Seq::Tuple(t) => t.len(),
        }
    }

    fn get(&self, i: usize) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Seq::List(l) => l.get_item(i),
            Seq::Tuple(t) => t.get_item(i),
        }
    }
}

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
/// `TypeError`/`ValueError` naming it. `descr` is NumPy's dtype object for `T`: most arrays
/// carry exactly that object, which one pointer comparison recognises.
fn typed_array<'py, T: Element>(
    op: &str,
    list: &str,
    i: usize,
    obj: &Bound<'py, PyAny>,
    descr: &Bound<'py, PyArrayDescr>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let ptr = obj.as_ptr();
    // SAFETY: `PyArray_Check` only reads the object's type, and the array fields are read only
    // once it says `obj` is an ndarray.
    let same_descr = unsafe {
        PyArray_Check(obj.py(), ptr) != 0
            && (*_PyArray_GET_ITEM_DATA(ptr.cast())).descr.cast() == descr.as_ptr()
    };
    let a = if same_descr {
        // SAFETY: an ndarray whose dtype is NumPy's dtype object for T is a PyArrayDyn<T>.
        unsafe { obj.cast_unchecked::<PyArrayDyn<T>>() }.clone()
    } else {
        obj.cast::<PyArrayDyn<T>>()
            .map_err(|_| {
                let want = if std::mem::size_of::<T>() == 4 {
                    "float32"
                } else {
                    "float64"
                };
                PyTypeError::new_err(format!(
                    "{op}: {list}[{i}] must be a {want} numpy array like params[0], got {}",
                    dtype_str(obj)
                ))
            })?
            .clone()
    };
    if !a.is_c_contiguous() {
        return Err(value_error(format!(
            "{op}: {list}[{i}] (shape {}) must be C-contiguous",
            shape_str(a.shape())
        )));
    }
    Ok(a)
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

/// Refuse a step in which an array that is written shares memory with any other array of
/// the step (the same buffer passed twice, a gradient that is a view of its parameter, ...).
/// This is what makes the unchecked slices of `run_typed` sound. `extras` are the other
/// arrays the step writes (`steps`, `mu_products`): a name and the range `(start, end)`.
fn check_no_overlap<T: Element>(
    op: &str,
    operands: &[Operand<'_, T>],
    extras: &[(&str, (usize, usize))],
) -> PyResult<()> {
    let size = std::mem::size_of::<T>();
    let n = operands.len();
    let end_of = |k: usize| match operands.get(k) {
        Some(o) => o.array.data() as usize + o.array.len() * size,
        None => extras[k - n].1 .1,
    };
    // (start, index into operands; n + j stands for `extras[j]`), empty arrays left out.
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(n + extras.len());
    for (k, o) in operands.iter().enumerate() {
        if o.array.len() > 0 {
            spans.push((o.array.data() as usize, k));
        }
    }
    for (j, (_, (start, end))) in extras.iter().enumerate() {
        if end > start {
            spans.push((*start, n + j));
        }
    }
    spans.sort_unstable();
    let mutable = |k: usize| k >= n || operands[k].mutable;
    let label = |k: usize| match operands.get(k) {
        Some(o) => format!("{}[{}]", o.list, o.index),
        None => extras[k - n].0.to_string(),
    };
    // Sweep in order of start address, remembering how far the arrays seen so far reach.
    let (mut reach_any, mut reach_mut) = (0usize, 0usize);
    let (mut last_any, mut last_mut) = (0usize, 0usize);
    for &(start, k) in &spans {
        let end = end_of(k);
        let clash = if mutable(k) && start < reach_any {
            Some(last_any)
        } else if start < reach_mut {
            Some(last_mut)
        } else {
            None
        };
        if let Some(other) = clash {
            return Err(value_error(format!(
                "{op}: {} shares memory with {}; every array of a step must be distinct",
                label(k),
                label(other)
            )));
        }
        if end > reach_any {
            (reach_any, last_any) = (end, k);
        }
        if mutable(k) && end > reach_mut {
            (reach_mut, last_mut) = (end, k);
        }
    }
    Ok(())
}

/// A per-param array the kernel updates in place (the step counts; NAdam's `mu_products`):
/// writeable, C-contiguous, 1-D, of `T`, one entry per param. `what` describes it for errors.
fn per_param_array<'py, T: Element>(
    op: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
    n: usize,
    what: &str,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let a = obj.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{op}: {name} must be {what} per param, got {}",
            dtype_str(obj)
        ))
    })?;
    if a.shape() != [n] {
        return Err(value_error(format!(
            "{op}: {name} has shape {} but there are {n} params; expected shape ({n},)",
            shape_str(a.shape())
        )));
    }
    if !a.is_c_contiguous() || !is_writeable(a) {
        return Err(value_error(format!(
            "{op}: {name} must be C-contiguous and writeable (it is updated in place)"
        )));
    }
    Ok(a.clone())
}

/// The arguments of one call, before the dtype is known.
struct GroupArgs<'a, 'py> {
    op: &'static str,
    params: &'a Bound<'py, PyAny>,
    grads: &'a Bound<'py, PyAny>,
    /// Every state list the function accepts: the kernel's name of the buffer, the argument
    /// name, and the list (`None` when not given).
    states: &'a [(&'static str, &'static str, Option<&'a Bound<'py, PyAny>>)],
    steps: &'a Bound<'py, PyAny>,
    /// The argument holding the rule's carried scalars, for a rule with a `carry_name`.
    carries: Option<(&'static str, &'a Bound<'py, PyAny>)>,
}

/// The lists of one call, read.
struct Lists<'py> {
    params: Seq<'py>,
    grads: Seq<'py>,
    /// The state lists the rule needs, in its order, with their argument names.
    states: Vec<(&'static str, Seq<'py>)>,
}

impl<'py> GroupArgs<'_, 'py> {
    /// Read the lists, check their lengths and pick the state lists the rule needs.
    fn lists<R: UpdateRule>(&self, rule: &R) -> PyResult<Lists<'py>> {
        let op = self.op;
        let params = Seq::new(op, "params", self.params)?;
        let grads = Seq::new(op, "grads", self.grads)?;
        let n = params.len();
        if grads.len() != n {
            return Err(value_error(format!(
                "{op}: got {} grads for {n} params; expected one per param",
                grads.len()
            )));
        }
        let names = rule.state_names();
        let mut states = Vec::with_capacity(names.len());
        for name in names {
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
            let list = Seq::new(op, list_name, list)?;
            if list.len() != n {
                return Err(value_error(format!(
                    "{op}: got {} {list_name} for {n} params; expected one per param",
                    list.len()
                )));
            }
            states.push((list_name, list));
        }
        Ok(Lists {
            params,
            grads,
            states,
        })
    }

    fn run<R: UpdateRule>(&self, py: Python<'py>, rule: &R) -> PyResult<()> {
        kernel_result(rule.validate())?;
        let lists = self.lists(rule)?;
        let n = lists.params.len();
        let steps = per_param_array::<i64>(
            self.op,
            "steps",
            self.steps,
            n,
            "an int64 numpy array with one count",
        )?;
        let carries = match (rule.carry_name(), self.carries) {
            (None, _) => None,
            (Some(_), Some((name, obj))) => Some((
                name,
                per_param_array::<f64>(
                    self.op,
                    name,
                    obj,
                    n,
                    "a float64 numpy array with one value",
                )?,
            )),
            (Some(name), None) => {
                return Err(value_error(format!("{}: no argument for {name}", self.op)))
            }
        };
        if n == 0 {
            return Ok(());
        }
        let first = lists.params.get(0)?;
        if first.cast::<PyArrayDyn<f32>>().is_ok() {
            self.run_typed::<f32, R>(py, rule, &lists, &steps, carries.as_ref())
        } else if first.cast::<PyArrayDyn<f64>>().is_ok() {
            self.run_typed::<f64, R>(py, rule, &lists, &steps, carries.as_ref())
        } else {
            Err(PyTypeError::new_err(format!(
                "{}: params[0] must be a float32 or float64 numpy array, got {}",
                self.op,
                dtype_str(&first)
            )))
        }
    }

    fn run_typed<T: Real + Element, R: UpdateRule>(
        &self,
        py: Python<'py>,
        rule: &R,
        lists: &Lists<'py>,
        steps: &Bound<'py, PyArrayDyn<i64>>,
        carries: Option<&(&'static str, Bound<'py, PyArrayDyn<f64>>)>,
    ) -> PyResult<()> {
        let op = self.op;
        let n = lists.params.len();
        let k = lists.states.len();
        let descr = T::get_dtype(py);
        let mut operands: Vec<Operand<'py, T>> = Vec::with_capacity(n * (2 + k));
        let mut total = 0usize;
        for i in 0..n {
            let p = typed_array::<T>(op, "params", i, &lists.params.get(i)?, &descr)?;
            // Gradients are only read: a misaligned one is copied (params and state buffers
            // are updated in place, so those must be aligned already).
            let g = aligned_input(typed_array::<T>(
                op,
                "grads",
                i,
                &lists.grads.get(i)?,
                &descr,
            )?)?;
            same_shape(op, "grads", i, &g, p.shape())?;
            for (list_name, list) in &lists.states {
                let s = typed_array::<T>(op, list_name, i, &list.get(i)?, &descr)?;
                same_shape(op, list_name, i, &s, p.shape())?;
                if !is_writeable(&s) {
                    return Err(value_error(format!(
                        "{op}: {list_name}[{i}] is read-only and cannot be updated in place"
                    )));
                }
                operands.push(Operand {
                    array: s,
                    list: list_name,
                    index: i,
                    mutable: true,
                });
            }
            if !is_writeable(&p) {
                return Err(value_error(format!(
                    "{op}: params[{i}] is read-only and cannot be updated in place"
                )));
            }
            total += p.len();
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
        }
        let steps_start = steps.data() as usize;
        let mut extras = vec![(
            "steps",
            (steps_start, steps_start + n * std::mem::size_of::<i64>()),
        )];
        if let Some((name, c)) = carries {
            let start = c.data() as usize;
            extras.push((name, (start, start + n * std::mem::size_of::<f64>())));
        }
        check_no_overlap(op, &operands, &extras)?;

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
        let carried: Option<&mut [f64]> = match carries {
            Some((name, c)) => Some(
                unsafe { c.as_slice_mut() }
                    .map_err(|_| value_error(format!("{op}: {name} is not aligned")))?,
            ),
            None => None,
        };
        let mut carried = carried.map(|c| c.iter_mut());
        let slice_err = |o: &Operand<'py, T>| {
            value_error(format!("{op}: {}[{}] is not aligned", o.list, o.index))
        };
        let mut group = Vec::with_capacity(n);
        // Each parameter's operands are its state buffers, then the param, then the grad.
        for (chunk, &count) in operands.chunks(2 + k).zip(counts.iter()) {
            let [states @ .., p, g] = chunk else {
                unreachable!("chunks hold the state buffers, a param and its grad")
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
                carry: carried.as_mut().and_then(|c| c.next()),
            });
        }
        let result = if total > RELEASE_GIL_ABOVE {
            py.detach(|| optim::step(rule, group))
        } else {
            optim::step(rule, group)
        };
        kernel_result(result)?;
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
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    momentum_buffers: Option<&Bound<'py, PyAny>>,
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
        params,
        grads,
        states: &[("momentum_buffer", "momentum_buffers", momentum_buffers)],
        steps,
        carries: None,
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
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    state_sums: &Bound<'py, PyAny>,
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
        params,
        grads,
        states: &[("sum", "state_sums", Some(state_sums))],
        steps,
        carries: None,
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
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    square_avgs: &Bound<'py, PyAny>,
    acc_deltas: &Bound<'py, PyAny>,
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
        params,
        grads,
        states: &[
            ("square_avg", "square_avgs", Some(square_avgs)),
            ("acc_delta", "acc_deltas", Some(acc_deltas)),
        ],
        steps,
        carries: None,
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
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    square_avgs: &Bound<'py, PyAny>,
    momentum_buffers: Option<&Bound<'py, PyAny>>,
    grad_avgs: Option<&Bound<'py, PyAny>>,
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
        params,
        grads,
        states: &[
            ("square_avg", "square_avgs", Some(square_avgs)),
            ("momentum_buffer", "momentum_buffers", momentum_buffers),
            ("grad_avg", "grad_avgs", grad_avgs),
        ],
        steps,
        carries: None,
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
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    exp_avgs: &Bound<'py, PyAny>,
    exp_avg_sqs: &Bound<'py, PyAny>,
    max_exp_avg_sqs: Option<&Bound<'py, PyAny>>,
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
        params,
        grads,
        states: &[
            ("exp_avg", "exp_avgs", Some(exp_avgs)),
            ("exp_avg_sq", "exp_avg_sqs", Some(exp_avg_sqs)),
            ("max_exp_avg_sq", "max_exp_avg_sqs", max_exp_avg_sqs),
        ],
        steps,
        carries: None,
    }
    .run(py, &rule)
}

/// Adamax, in place over a group.
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_infs, steps, lr=2e-3, beta1=0.9, beta2=0.999,
                    eps=1e-8, weight_decay=0.0, maximize=false))]
#[allow(clippy::too_many_arguments)]
fn adamax_step<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    exp_avgs: &Bound<'py, PyAny>,
    exp_infs: &Bound<'py, PyAny>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let rule = Adamax {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        maximize,
    };
    GroupArgs {
        op: "adamax_step",
        params,
        grads,
        states: &[
            ("exp_avg", "exp_avgs", Some(exp_avgs)),
            ("exp_inf", "exp_infs", Some(exp_infs)),
        ],
        steps,
        carries: None,
    }
    .run(py, &rule)
}

/// NAdam, in place over a group: `mu_products` (float64, one per param, 1.0 before the first
/// step) is each parameter's running product of momentum coefficients, updated in place.
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, lr=2e-3,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                    decoupled_weight_decay=false, maximize=false))]
#[allow(clippy::too_many_arguments)]
fn nadam_step<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    exp_avgs: &Bound<'py, PyAny>,
    exp_avg_sqs: &Bound<'py, PyAny>,
    mu_products: &Bound<'py, PyAny>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<()> {
    let rule = Nadam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        momentum_decay,
        decoupled_weight_decay,
        maximize,
    };
    GroupArgs {
        op: "nadam_step",
        params,
        grads,
        states: &[
            ("exp_avg", "exp_avgs", Some(exp_avgs)),
            ("exp_avg_sq", "exp_avg_sqs", Some(exp_avg_sqs)),
        ],
        steps,
        carries: Some(("mu_products", mu_products)),
    }
    .run(py, &rule)
}

/// RAdam, in place over a group.
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, steps, lr=1e-3, beta1=0.9,
                    beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled_weight_decay=false,
                    maximize=false))]
#[allow(clippy::too_many_arguments)]
fn radam_step<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    exp_avgs: &Bound<'py, PyAny>,
    exp_avg_sqs: &Bound<'py, PyAny>,
    steps: &Bound<'py, PyAny>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<()> {
    let rule = Radam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        decoupled_weight_decay,
        maximize,
    };
    GroupArgs {
        op: "radam_step",
        params,
        grads,
        states: &[
            ("exp_avg", "exp_avgs", Some(exp_avgs)),
            ("exp_avg_sq", "exp_avg_sqs", Some(exp_avg_sqs)),
        ],
        steps,
        carries: None,
    }
    .run(py, &rule)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(adagrad_step, m)?)?;
    m.add_function(wrap_pyfunction!(adadelta_step, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(adamax_step, m)?)?;
    m.add_function(wrap_pyfunction!(nadam_step, m)?)?;
    m.add_function(wrap_pyfunction!(radam_step, m)?)?;
    Ok(())
}
