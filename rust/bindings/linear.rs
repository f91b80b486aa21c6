//! `linear_forward(x, weight, bias=None)` and
//! `linear_backward(grad, x, weight, need_x=True, need_weight=True, need_bias=True)`.
//!
//! These run once per dense layer per step, so the per-call cost matters as much as the
//! arithmetic: arrays are checked by hand and read through raw views instead of NumPy's
//! borrow registry (outputs are always new arrays, so nothing we write can alias an input).

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::common::{fmt_shape, kernel_result, same_dtype, value_error};
use crate::kernels::linear;
use crate::kernels::matmul::{extent, MatRef};
use crate::kernels::real::Real;

/// A 2-D array as a strided matrix view, or a `ValueError` naming it.
///
/// SAFETY (of using the view): the caller keeps `a` alive and does not write to it while
/// the view is used; dlcore writes only into arrays it has just created.
fn view<'a, T: Element>(
    op: &str,
    name: &str,
    a: &'a Bound<'_, PyArrayDyn<T>>,
) -> PyResult<MatRef<'a, T>> {
    if a.ndim() != 2 {
        return Err(value_error(format!(
            "{op}: {name} must be 2-D, got shape {}",
            fmt_shape(a.shape())
        )));
    }
    let item = std::mem::size_of::<T>() as isize;
    let strides = a.strides();
    let (rs, cs) = (strides[0], strides[1]);
    let aligned = (a.data() as usize).is_multiple_of(std::mem::align_of::<T>());
    if rs < 0 || cs < 0 || rs % item != 0 || cs % item != 0 || !aligned {
        return Err(value_error(format!(
            "{op}: {name} has strides {strides:?}; expected an aligned array with \
             non-negative multiples of {item} bytes"
        )));
    }
    let (rows, cols) = (a.shape()[0], a.shape()[1]);
    let (row_stride, col_stride) = ((rs / item) as usize, (cs / item) as usize);
    let len = extent(rows, cols, row_stride, col_stride);
    // SAFETY: NumPy guarantees the strided view stays inside the array's buffer, and `len`
    // is exactly the span it reaches; an empty view gets an empty slice.
    let data = if len == 0 {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(a.data() as *const T, len) }
    };
    Ok(MatRef {
        data,
        rows,
        cols,
        row_stride,
        col_stride,
    })
}

/// A new uninitialised array; every element is written by a kernel before Python sees it.
fn new_array<'py, T: Element>(py: Python<'py>, shape: &[usize]) -> Bound<'py, PyArrayDyn<T>> {
    // SAFETY: see above.
    unsafe { PyArrayDyn::<T>::new(py, shape, false) }
}

fn forward_typed<'py, T: Real + Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArrayDyn<T>>,
    weight: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "linear_forward";
    let w = same_dtype::<T>(OP, "weight", weight)?;
    let xv = view(OP, "x", x)?;
    let wv = view(OP, "weight", &w)?;
    if xv.cols != wv.cols {
        return Err(value_error(format!(
            "{OP}: x has shape {} but weight {} expects {} input features",
            fmt_shape(x.shape()),
            fmt_shape(w.shape()),
            wv.cols
        )));
    }
    let b = bias.map(|b| same_dtype::<T>(OP, "bias", b)).transpose()?;
    let bias_slice = match &b {
        Some(b) => {
            if b.ndim() != 1 || b.len() != wv.rows || !b.is_c_contiguous() {
                return Err(value_error(format!(
                    "{OP}: bias has shape {} but expected ({},) and C-contiguous",
                    fmt_shape(b.shape()),
                    wv.rows
                )));
            }
            // SAFETY: a live, contiguous 1-D array of `len` elements, only read.
            Some(unsafe { std::slice::from_raw_parts(b.data() as *const T, b.len()) })
        }
        None => None,
    };
    let out = new_array::<T>(py, &[xv.rows, wv.rows]);
    // SAFETY: `out` was just created (C-contiguous, aligned) and no one else sees it until
    // the kernel is done.
    let out_slice = unsafe { out.as_slice_mut() }.map_err(|e| value_error(format!("{OP}: {e}")))?;
    kernel_result(py.detach(|| linear::forward(xv, wv, bias_slice, out_slice)))?;
    Ok(out.into_any())
}

type Grads<'py> = (
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

fn backward_typed<'py, T: Real + Element>(
    py: Python<'py>,
    g: &Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    need: (bool, bool, bool),
) -> PyResult<Grads<'py>> {
    const OP: &str = "linear_backward";
    let x = same_dtype::<T>(OP, "x", x)?;
    let w = same_dtype::<T>(OP, "weight", weight)?;
    let (gv, xv, wv) = (
        view(OP, "grad", g)?,
        view(OP, "x", &x)?,
        view(OP, "weight", &w)?,
    );
    if xv.cols != wv.cols || gv.rows != xv.rows || gv.cols != wv.rows {
        return Err(value_error(format!(
            "{OP}: grad {}, x {} and weight {} do not fit y = x @ weight.T: expected grad \
             ({}, {})",
            fmt_shape(g.shape()),
            fmt_shape(x.shape()),
            fmt_shape(w.shape()),
            xv.rows,
            wv.rows
        )));
    }
    let gx = need.0.then(|| new_array::<T>(py, &[xv.rows, wv.cols]));
    let gw = need.1.then(|| new_array::<T>(py, &[wv.rows, wv.cols]));
    let gb = need.2.then(|| new_array::<T>(py, &[wv.rows]));
    // SAFETY: the three arrays were just created (C-contiguous, aligned) and no one else
    // sees them until the kernel is done.
    let err = |e: numpy::AsSliceError| value_error(format!("{OP}: {e}"));
    let sx = match &gx {
        Some(a) => Some(unsafe { a.as_slice_mut() }.map_err(err)?),
        None => None,
    };
    let sw = match &gw {
        Some(a) => Some(unsafe { a.as_slice_mut() }.map_err(err)?),
        None => None,
    };
    let sb = match &gb {
        Some(a) => Some(unsafe { a.as_slice_mut() }.map_err(err)?),
        None => None,
    };
    kernel_result(py.detach(|| linear::backward(gv, xv, wv, sx, sw, sb)))?;
    Ok((
        gx.map(Bound::into_any),
        gw.map(Bound::into_any),
        gb.map(Bound::into_any),
    ))
}

/// `x @ weight.T + bias` for 2-D float32/float64 `x (n, in)`, `weight (out, in)` (any
/// non-negative strides) and a contiguous `bias (out,)`; returns a new `(n, out)` array.
#[pyfunction]
#[pyo3(signature = (x, weight, bias=None))]
fn linear_forward<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match super::common::float_array("linear_forward", "x", x)? {
        super::common::FloatArray::F32(x) => forward_typed(py, &x, weight, bias),
        super::common::FloatArray::F64(x) => forward_typed(py, &x, weight, bias),
    }
}

/// `(grad @ weight, grad.T @ x, grad.sum(axis=0))`, each computed only when asked for (else
/// None): the gradients of `linear_forward` with respect to x, weight and bias.
#[pyfunction]
#[pyo3(signature = (grad, x, weight, need_x=true, need_weight=true, need_bias=true))]
fn linear_backward<'py>(
    py: Python<'py>,
    grad: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    need_x: bool,
    need_weight: bool,
    need_bias: bool,
) -> PyResult<Grads<'py>> {
    let need = (need_x, need_weight, need_bias);
    match super::common::float_array("linear_backward", "grad", grad)? {
        super::common::FloatArray::F32(g) => backward_typed(py, &g, x, weight, need),
        super::common::FloatArray::F64(g) => backward_typed(py, &g, x, weight, need),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(linear_forward, m)?)?;
    m.add_function(wrap_pyfunction!(linear_backward, m)?)?;
    Ok(())
}
