//! Binary cross-entropy on logits: `bce_with_logits` and `bce_with_logits_backward`.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyFloat;

use super::activation::output_like;
use super::common::{
    borrow_error, float_array, kernel_result, read, require_contiguous, require_shape, same_dtype,
    value_error, FloatArray,
};
use crate::kernels::bce_logits;
use crate::kernels::real::Real;

/// Checked, aligned, contiguous `target` shaped like `logits`.
fn target_like<'py, T: Element>(
    op: &str,
    logits: &Bound<'py, PyArrayDyn<T>>,
    target: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    require_contiguous(op, "logits", logits)?;
    let target = super::common::aligned_input(same_dtype::<T>(op, "target", target)?)?;
    require_contiguous(op, "target", &target)?;
    require_shape(op, "target", &target, logits.shape())?;
    Ok(target)
}

fn forward_typed<'py, T: Real + Element>(
    logits: &Bound<'py, PyArrayDyn<T>>,
    target: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "bce_with_logits";
    let target = target_like(OP, logits, target)?;
    let out = output_like(OP, logits, None)?;
    {
        let (zg, tg) = (read(OP, "logits", logits)?, read(OP, "target", &target)?);
        let mut og = out
            .try_readwrite()
            .map_err(|e| borrow_error(OP, "out", e))?;
        let err = |e: numpy::AsSliceError| value_error(format!("{OP}: {e}"));
        let (zs, ts) = (zg.as_slice().map_err(err)?, tg.as_slice().map_err(err)?);
        let os = og.as_slice_mut().map_err(err)?;
        kernel_result(logits.py().detach(|| bce_logits::forward(zs, ts, os)))?;
    }
    Ok(out.into_any())
}

fn backward_typed<'py, T: Real + Element>(
    logits: &Bound<'py, PyArrayDyn<T>>,
    target: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "bce_with_logits_backward";
    let target = target_like(OP, logits, target)?;
    // A Python float is the one upstream gradient of every element (a reduced loss).
    let scale = match grad.cast::<PyFloat>() {
        Ok(f) => Some(f.value()),
        Err(_) => None,
    };
    let upstream = match scale {
        Some(_) => None,
        None => {
            let g = super::common::aligned_input(same_dtype::<T>(OP, "grad", grad)?)?;
            require_contiguous(OP, "grad", &g)?;
            require_shape(OP, "grad", &g, logits.shape())?;
            Some(g)
        }
    };
    let out = output_like(OP, logits, None)?;
    {
        let (zg, tg) = (read(OP, "logits", logits)?, read(OP, "target", &target)?);
        let gg = upstream.as_ref().map(|g| read(OP, "grad", g)).transpose()?;
        let mut og = out
            .try_readwrite()
            .map_err(|e| borrow_error(OP, "out", e))?;
        let err = |e: numpy::AsSliceError| value_error(format!("{OP}: {e}"));
        let (zs, ts) = (zg.as_slice().map_err(err)?, tg.as_slice().map_err(err)?);
        let gs = gg.as_ref().map(|g| g.as_slice()).transpose().map_err(err)?;
        let os = og.as_slice_mut().map_err(err)?;
        kernel_result(logits.py().detach(|| match (gs, scale) {
            (Some(gs), _) => bce_logits::backward(zs, ts, gs, os),
            (None, scale) => {
                bce_logits::backward_scaled(zs, ts, T::from_f64(scale.unwrap_or(1.0)), os)
            }
        }))?;
    }
    Ok(out.into_any())
}

/// Per-element losses `max(z, 0) - z t + log1p(exp(-|z|))` of logits `z` and targets `t`
/// (same shape and dtype, float32 or float64, C-contiguous).
#[pyfunction]
fn bce_with_logits<'py>(
    logits: &Bound<'py, PyAny>,
    target: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("bce_with_logits", "logits", logits)? {
        FloatArray::F32(z) => forward_typed(&z, target),
        FloatArray::F64(z) => forward_typed(&z, target),
    }
}

/// `grad * (sigmoid(z) - t)`; `grad` is an array shaped like `z` or one float for all.
#[pyfunction]
fn bce_with_logits_backward<'py>(
    logits: &Bound<'py, PyAny>,
    target: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("bce_with_logits_backward", "logits", logits)? {
        FloatArray::F32(z) => backward_typed(&z, target, grad),
        FloatArray::F64(z) => backward_typed(&z, target, grad),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bce_with_logits, m)?)?;
    m.add_function(wrap_pyfunction!(bce_with_logits_backward, m)?)?;
    Ok(())
}
