//! `dropout`: inverted dropout whose mask is regenerated from a seed (see the kernel).

use numpy::{Element, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;

use super::activation::output_like;
use super::common::{float_array, kernel_result, require_contiguous, value_error, FloatArray};
use crate::kernels::dropout::{apply, Dropout};
use crate::kernels::real::Real;

fn dropout_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    opts: Dropout,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "dropout";
    require_contiguous(OP, "x", x)?;
    let out = output_like(OP, x, out)?;
    {
        let xg = x.readonly();
        let mut og = out
            .try_readwrite()
            .map_err(|e| value_error(format!("{OP}: out {e}")))?;
        let err = |e: numpy::AsSliceError| value_error(format!("{OP}: {e}"));
        let xs = xg.as_slice().map_err(err)?;
        let os = og.as_slice_mut().map_err(err)?;
        kernel_result(x.py().detach(|| apply(opts, xs, os)))?;
    }
    Ok(out.into_any())
}

/// `x * mask / (1 - p)` with the mask a function of `(seed, index // group)`: calling it
/// again with the same seed on the gradient is the backward pass.
#[pyfunction]
#[pyo3(signature = (x, p, seed, group=1, out=None))]
fn dropout<'py>(
    x: &Bound<'py, PyAny>,
    p: f64,
    seed: u64,
    group: usize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = Dropout { p, seed, group };
    match float_array("dropout", "x", x)? {
        FloatArray::F32(x) => dropout_typed(&x, opts, out),
        FloatArray::F64(x) => dropout_typed(&x, opts, out),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dropout, m)?)?;
    Ok(())
}
