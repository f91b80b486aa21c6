//! Elementwise activations: `activation_forward` and `activation_backward`.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::common::{
    aligned_input, borrow_error, empty_array, float_array, kernel_result, read, require_contiguous,
    require_shape, same_dtype, FloatArray,
};
use crate::kernels::elementwise::{self, Activation};
use crate::kernels::real::Real;

/// An output array: the caller's (checked) or a new one shaped like `like`.
pub fn output_like<'py, T: Element>(
    op: &str,
    like: &Bound<'py, PyArrayDyn<T>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    match out {
        Some(o) => {
            let o = same_dtype::<T>(op, "out", o)?;
            require_shape(op, "out", &o, like.shape())?;
            require_contiguous(op, "out", &o)?;
            Ok(o)
        }
        // SAFETY: the kernels write every element before Python can read it.
        None => unsafe { empty_array::<T>(like.py(), like.shape()) },
    }
}

fn forward_typed<'py, T: Real + Element>(
    act: Activation,
    x: &Bound<'py, PyArrayDyn<T>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "activation_forward";
    require_contiguous(OP, "x", x)?;
    let out = output_like(OP, x, out)?;
    {
        let xg = read(OP, "x", x)?;
        let mut og = out
            .try_readwrite()
            .map_err(|e| borrow_error(OP, "out", e))?;
        let xs = xg
            .as_slice()
            .map_err(|e| super::common::value_error(format!("{OP}: x {e}")))?;
        let os = og
            .as_slice_mut()
            .map_err(|e| super::common::value_error(format!("{OP}: out {e}")))?;
        kernel_result(x.py().detach(|| elementwise::forward(act, xs, os)))?;
    }
    Ok(out.into_any())
}

fn backward_typed<'py, T: Real + Element>(
    act: Activation,
    x: &Bound<'py, PyArrayDyn<T>>,
    y: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "activation_backward";
    let y = aligned_input(same_dtype::<T>(OP, "y", y)?)?;
    let grad = aligned_input(same_dtype::<T>(OP, "grad", grad)?)?;
    for (name, a) in [("x", x), ("y", &y), ("grad", &grad)] {
        require_contiguous(OP, name, a)?;
        require_shape(OP, name, a, x.shape())?;
    }
    let out = output_like(OP, x, out)?;
    {
        let (xg, yg, gg) = (
            read(OP, "x", x)?,
            read(OP, "y", &y)?,
            read(OP, "grad", &grad)?,
        );
        let mut og = out
            .try_readwrite()
            .map_err(|e| borrow_error(OP, "out", e))?;
        let err = |e: numpy::AsSliceError| super::common::value_error(format!("{OP}: {e}"));
        let (xs, ys, gs) = (
            xg.as_slice().map_err(err)?,
            yg.as_slice().map_err(err)?,
            gg.as_slice().map_err(err)?,
        );
        let os = og.as_slice_mut().map_err(err)?;
        kernel_result(x.py().detach(|| elementwise::backward(act, xs, ys, gs, os)))?;
    }
    Ok(out.into_any())
}

/// `out = f(x)` for the activation named `name` ("relu", "sigmoid", "tanh", "leaky_relu",
/// "elu", "step", "silu", "gelu", "gelu_tanh", "hardtanh", "hardsigmoid", "hardswish", "selu",
/// "celu", "mish", "softsign", "logsigmoid", "tanhshrink", "softshrink", "hardshrink",
/// "threshold"); `param` is the slope, alpha or lambd where the activation has one, and
/// `param`, `param2` are (min_val, max_val) for "hardtanh" and (threshold, value) for
/// "threshold".
#[pyfunction]
#[pyo3(signature = (name, x, out=None, param=0.0, param2=0.0))]
fn activation_forward<'py>(
    name: &str,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    param: f64,
    param2: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let act = kernel_result(Activation::from_name(name, param, param2))?;
    match float_array("activation_forward", "x", x)? {
        FloatArray::F32(x) => forward_typed(act, &x, out),
        FloatArray::F64(x) => forward_typed(act, &x, out),
    }
}

/// `out = grad * f'(x)`, where `y = f(x)` is the forward output; `name`, `param` and `param2`
/// as in `activation_forward`.
#[pyfunction]
#[pyo3(signature = (name, x, y, grad, out=None, param=0.0, param2=0.0))]
fn activation_backward<'py>(
    name: &str,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    param: f64,
    param2: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let act = kernel_result(Activation::from_name(name, param, param2))?;
    match float_array("activation_backward", "x", x)? {
        FloatArray::F32(x) => backward_typed(act, &x, y, grad, out),
        FloatArray::F64(x) => backward_typed(act, &x, y, grad, out),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(activation_forward, m)?)?;
    m.add_function(wrap_pyfunction!(activation_backward, m)?)?;
    Ok(())
}
