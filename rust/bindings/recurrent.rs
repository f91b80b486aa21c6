//! Fused recurrent cells: `lstm_cell`, `gru_cell` and their backward passes on C-contiguous
//! 2-D arrays of one float dtype (see `kernels::recurrent`).

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::buffers::cached_array;
use super::common::{
    aligned_input, borrow_error, float_array, fmt_shape, kernel_result, read, require_contiguous,
    require_shape, same_dtype, value_error, FloatArray,
};
use crate::kernels::real::Real;
use crate::kernels::recurrent;

/// `obj` as a C-contiguous array of `T` with exactly `shape`, or an error naming it.
fn input<'py, T: Element>(
    op: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let a = aligned_input(same_dtype::<T>(op, name, obj)?)?;
    require_contiguous(op, name, &a)?;
    require_shape(op, name, &a, shape)?;
    Ok(a)
}

/// `(rows, hidden)` of a `(rows, gates * hidden)` array.
fn gate_shape<T: Element>(
    op: &str,
    name: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
    gates: usize,
) -> PyResult<(usize, usize)> {
    match a.shape() {
        &[rows, width] if width % gates == 0 => Ok((rows, width / gates)),
        shape => Err(value_error(format!(
            "{op}: {name} must be 2-D (N, {gates} * hidden_size), got shape {}",
            fmt_shape(shape)
        ))),
    }
}

macro_rules! slices {
    ($op:expr, $($name:ident),+) => {
        $(let $name = read($op, stringify!($name), &$name)?;)+
        $(let $name = $name.as_slice().map_err(|e| value_error(format!("{}: {e}", $op)))?;)+
    };
}

macro_rules! slices_mut {
    ($op:expr, $($name:ident),+) => {
        $(let mut $name = $name.try_readwrite().map_err(|e| borrow_error($op, "out", e))?;)+
        $(let $name = $name.as_slice_mut().map_err(|e| value_error(format!("{}: {e}", $op)))?;)+
    };
}

fn lstm_typed<'py, T: Real + Element>(
    gates: &Bound<'py, PyArrayDyn<T>>,
    c_prev: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    const OP: &str = "lstm_cell";
    let py = gates.py();
    require_contiguous(OP, "gates", gates)?;
    let (rows, hidden) = gate_shape(OP, "gates", gates, 4)?;
    let c_prev = input::<T>(OP, "c_prev", c_prev, &[rows, hidden])?;
    let hc = cached_array::<T>(py, &[2, rows, hidden])?;
    let act = cached_array::<T>(py, &[rows, 4 * hidden])?;
    {
        let (gates_in, c_in) = (gates.clone(), c_prev);
        slices!(OP, gates_in, c_in);
        slices_mut!(OP, hc, act);
        let (h, c) = hc.split_at_mut(rows * hidden);
        kernel_result(
            py.detach(|| recurrent::lstm_cell_forward((rows, hidden), gates_in, c_in, act, h, c)),
        )?;
    }
    PyTuple::new(py, [hc.into_any(), act.into_any()])
}

fn lstm_backward_typed<'py, T: Real + Element>(
    act: &Bound<'py, PyArrayDyn<T>>,
    c_prev: &Bound<'py, PyAny>,
    c: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    const OP: &str = "lstm_cell_backward";
    let py = act.py();
    require_contiguous(OP, "act", act)?;
    let (rows, hidden) = gate_shape(OP, "act", act, 4)?;
    let c_prev = input::<T>(OP, "c_prev", c_prev, &[rows, hidden])?;
    let c = input::<T>(OP, "c", c, &[rows, hidden])?;
    let grad = input::<T>(OP, "grad", grad, &[2, rows, hidden])?;
    let dgates = cached_array::<T>(py, &[rows, 4 * hidden])?;
    let dc_prev = cached_array::<T>(py, &[rows, hidden])?;
    {
        let act = act.clone();
        slices!(OP, act, c_prev, c, grad);
        slices_mut!(OP, dgates, dc_prev);
        let (dh, dc) = grad.split_at(rows * hidden);
        kernel_result(py.detach(|| {
            recurrent::lstm_cell_backward((rows, hidden), act, c_prev, c, dh, dc, dgates, dc_prev)
        }))?;
    }
    PyTuple::new(py, [dgates.into_any(), dc_prev.into_any()])
}

fn gru_typed<'py, T: Real + Element>(
    gx: &Bound<'py, PyArrayDyn<T>>,
    gh: &Bound<'py, PyAny>,
    h_prev: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    const OP: &str = "gru_cell";
    let py = gx.py();
    require_contiguous(OP, "gx", gx)?;
    let (rows, hidden) = gate_shape(OP, "gx", gx, 3)?;
    let gh = input::<T>(OP, "gh", gh, &[rows, 3 * hidden])?;
    let h_prev = input::<T>(OP, "h_prev", h_prev, &[rows, hidden])?;
    let h = cached_array::<T>(py, &[rows, hidden])?;
    let saved = cached_array::<T>(py, &[rows, 3 * hidden])?;
    {
        let gx = gx.clone();
        slices!(OP, gx, gh, h_prev);
        slices_mut!(OP, saved, h);
        kernel_result(
            py.detach(|| recurrent::gru_cell_forward((rows, hidden), gx, gh, h_prev, saved, h)),
        )?;
    }
    PyTuple::new(py, [h.into_any(), saved.into_any()])
}

fn gru_backward_typed<'py, T: Real + Element>(
    saved: &Bound<'py, PyArrayDyn<T>>,
    gh: &Bound<'py, PyAny>,
    h_prev: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    const OP: &str = "gru_cell_backward";
    let py = saved.py();
    require_contiguous(OP, "saved", saved)?;
    let (rows, hidden) = gate_shape(OP, "saved", saved, 3)?;
    let gh = input::<T>(OP, "gh", gh, &[rows, 3 * hidden])?;
    let h_prev = input::<T>(OP, "h_prev", h_prev, &[rows, hidden])?;
    let grad = input::<T>(OP, "grad", grad, &[rows, hidden])?;
    let dgx = cached_array::<T>(py, &[rows, 3 * hidden])?;
    let dgh = cached_array::<T>(py, &[rows, 3 * hidden])?;
    let dh_prev = cached_array::<T>(py, &[rows, hidden])?;
    {
        let saved = saved.clone();
        slices!(OP, saved, gh, h_prev, grad);
        slices_mut!(OP, dgx, dgh, dh_prev);
        kernel_result(py.detach(|| {
            recurrent::gru_cell_backward((rows, hidden), saved, gh, h_prev, grad, dgx, dgh, dh_prev)
        }))?;
    }
    PyTuple::new(py, [dgx.into_any(), dgh.into_any(), dh_prev.into_any()])
}

/// One LSTM step from the gate pre-activations `gates` (N, 4H; PyTorch's i, f, g, o) and the
/// cell state `c_prev` (N, H): `(hc, act)`, `hc` (2, N, H) holding the new h and c, `act` the
/// activated gates the backward needs.
#[pyfunction]
fn lstm_cell<'py>(
    gates: &Bound<'py, PyAny>,
    c_prev: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    match float_array("lstm_cell", "gates", gates)? {
        FloatArray::F32(g) => lstm_typed(&g, c_prev),
        FloatArray::F64(g) => lstm_typed(&g, c_prev),
    }
}

/// The gradients `(dgates, dc_prev)` of `lstm_cell` from `grad` (2, N, H), the gradient of
/// its `hc`.
#[pyfunction]
fn lstm_cell_backward<'py>(
    act: &Bound<'py, PyAny>,
    c_prev: &Bound<'py, PyAny>,
    c: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    match float_array("lstm_cell_backward", "act", act)? {
        FloatArray::F32(a) => lstm_backward_typed(&a, c_prev, c, grad),
        FloatArray::F64(a) => lstm_backward_typed(&a, c_prev, c, grad),
    }
}

/// One GRU step from the input term `gx` (N, 3H; r, z, n, with b_ih), the hidden term `gh`
/// (N, 3H, with b_hh) and `h_prev` (N, H): `(h, saved)`, `saved` the gates the backward needs.
#[pyfunction]
fn gru_cell<'py>(
    gx: &Bound<'py, PyAny>,
    gh: &Bound<'py, PyAny>,
    h_prev: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    match float_array("gru_cell", "gx", gx)? {
        FloatArray::F32(x) => gru_typed(&x, gh, h_prev),
        FloatArray::F64(x) => gru_typed(&x, gh, h_prev),
    }
}

/// The gradients `(dgx, dgh, dh_prev)` of `gru_cell` from `grad` (N, H), the gradient of h.
#[pyfunction]
fn gru_cell_backward<'py>(
    saved: &Bound<'py, PyAny>,
    gh: &Bound<'py, PyAny>,
    h_prev: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    match float_array("gru_cell_backward", "saved", saved)? {
        FloatArray::F32(s) => gru_backward_typed(&s, gh, h_prev, grad),
        FloatArray::F64(s) => gru_backward_typed(&s, gh, h_prev, grad),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lstm_cell, m)?)?;
    m.add_function(wrap_pyfunction!(lstm_cell_backward, m)?)?;
    m.add_function(wrap_pyfunction!(gru_cell, m)?)?;
    m.add_function(wrap_pyfunction!(gru_cell_backward, m)?)?;
    Ok(())
}
