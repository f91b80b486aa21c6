//! Row-wise softmax / log-softmax and the fused softmax cross-entropy.

use numpy::{Element, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::activation::output_like;
use super::common::{
    aligned_input, borrow_error, float_array, kernel_result, read, require_contiguous,
    require_shape, same_dtype, value_error, FloatArray,
};
use crate::kernels::real::Real;
use crate::kernels::softmax::{self, CrossEntropy, Rows};

fn rows_of<T: Element>(op: &str, x: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Rows> {
    if x.ndim() != 2 {
        return Err(value_error(format!(
            "{op}: input must be 2-D (rows, classes), got shape {}",
            super::common::fmt_shape(x.shape())
        )));
    }
    require_contiguous(op, "input", x)?;
    Ok(Rows {
        rows: x.shape()[0],
        cols: x.shape()[1],
    })
}

fn labels_of<'py>(
    op: &str,
    labels: &Bound<'py, PyAny>,
    rows: usize,
) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
    let l = labels.cast::<PyArrayDyn<i64>>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!("{op}: labels must be an int64 numpy array"))
    })?;
    let l = aligned_input(l.clone())?;
    require_contiguous(op, "labels", &l)?;
    require_shape(op, "labels", &l, &[rows])?;
    Ok(l)
}

fn rowwise_typed<'py, T: Real + Element>(
    log: bool,
    x: &Bound<'py, PyArrayDyn<T>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let op = if log { "log_softmax" } else { "softmax" };
    let shape = rows_of(op, x)?;
    let out = output_like(op, x, out)?;
    {
        let xg = read(op, "input", x)?;
        let mut og = out
            .try_readwrite()
            .map_err(|e| borrow_error(op, "out", e))?;
        let xs = xg
            .as_slice()
            .map_err(|e| value_error(format!("{op}: {e}")))?;
        let os = og
            .as_slice_mut()
            .map_err(|e| value_error(format!("{op}: {e}")))?;
        let r = x.py().detach(|| {
            if log {
                softmax::log_softmax(shape, xs, os)
            } else {
                softmax::softmax(shape, xs, os)
            }
        });
        kernel_result(r)?;
    }
    Ok(out.into_any())
}

/// Row-wise `log_softmax` of a 2-D array.
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn log_softmax<'py>(
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("log_softmax", "x", x)? {
        FloatArray::F32(x) => rowwise_typed(true, &x, out),
        FloatArray::F64(x) => rowwise_typed(true, &x, out),
    }
}

/// Row-wise `softmax` of a 2-D array.
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn softmax_rows<'py>(
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("softmax", "x", x)? {
        FloatArray::F32(x) => rowwise_typed(false, &x, out),
        FloatArray::F64(x) => rowwise_typed(false, &x, out),
    }
}

fn xent_forward_typed<'py, T: Real + Element>(
    logits: &Bound<'py, PyArrayDyn<T>>,
    labels: &Bound<'py, PyAny>,
    ignore_index: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    const OP: &str = "cross_entropy";
    let shape = rows_of(OP, logits)?;
    let labels = labels_of(OP, labels, shape.rows)?;
    let py = logits.py();
    let log_probs = output_like(OP, logits, None)?;
    let losses = unsafe { PyArray1::<T>::new(py, [shape.rows], false) };
    {
        let (lg, lab) = (read(OP, "logits", logits)?, read(OP, "labels", &labels)?);
        let mut lpg = log_probs.readwrite();
        let mut lsg = losses.readwrite();
        let err = |e: numpy::AsSliceError| value_error(format!("{OP}: {e}"));
        let (ls, labs) = (lg.as_slice().map_err(err)?, lab.as_slice().map_err(err)?);
        let (lps, loss_s) = (
            lpg.as_slice_mut().map_err(err)?,
            lsg.as_slice_mut().map_err(err)?,
        );
        let opts = CrossEntropy { ignore_index };
        kernel_result(
            py.detach(|| softmax::cross_entropy_forward(opts, shape, ls, labs, lps, loss_s)),
        )?;
    }
    Ok((losses.into_any(), log_probs.into_any()))
}

/// Per-row losses and the log-probabilities, from logits `(N, C)` and int64 labels `(N,)`.
#[pyfunction]
#[pyo3(signature = (logits, labels, ignore_index=None))]
fn cross_entropy_forward<'py>(
    logits: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    ignore_index: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    match float_array("cross_entropy", "logits", logits)? {
        FloatArray::F32(x) => xent_forward_typed(&x, labels, ignore_index),
        FloatArray::F64(x) => xent_forward_typed(&x, labels, ignore_index),
    }
}

fn xent_backward_typed<'py, T: Real + Element>(
    log_probs: &Bound<'py, PyArrayDyn<T>>,
    labels: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
    ignore_index: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "cross_entropy backward";
    let shape = rows_of(OP, log_probs)?;
    let labels = labels_of(OP, labels, shape.rows)?;
    let grad = aligned_input(same_dtype::<T>(OP, "grad", grad)?)?;
    require_contiguous(OP, "grad", &grad)?;
    require_shape(OP, "grad", &grad, &[shape.rows])?;
    let out = output_like(OP, log_probs, None)?;
    {
        let (lpg, lab, gg) = (
            read(OP, "log_probs", log_probs)?,
            read(OP, "labels", &labels)?,
            read(OP, "grad", &grad)?,
        );
        let mut og = out.readwrite();
        let err = |e: numpy::AsSliceError| value_error(format!("{OP}: {e}"));
        let (lps, labs, gs) = (
            lpg.as_slice().map_err(err)?,
            lab.as_slice().map_err(err)?,
            gg.as_slice().map_err(err)?,
        );
        let os = og.as_slice_mut().map_err(err)?;
        let opts = CrossEntropy { ignore_index };
        kernel_result(
            log_probs
                .py()
                .detach(|| softmax::cross_entropy_backward(opts, shape, lps, labs, gs, os)),
        )?;
    }
    Ok(out.into_any())
}

/// Gradient of the per-row losses w.r.t. the logits, given `grad` `(N,)` of those losses.
#[pyfunction]
#[pyo3(signature = (log_probs, labels, grad, ignore_index=None))]
fn cross_entropy_backward<'py>(
    log_probs: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
    ignore_index: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("cross_entropy backward", "log_probs", log_probs)? {
        FloatArray::F32(x) => xent_backward_typed(&x, labels, grad, ignore_index),
        FloatArray::F64(x) => xent_backward_typed(&x, labels, grad, ignore_index),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(log_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_rows, m)?)?;
    m.add_function(wrap_pyfunction!(cross_entropy_forward, m)?)?;
    m.add_function(wrap_pyfunction!(cross_entropy_backward, m)?)?;
    Ok(())
}
