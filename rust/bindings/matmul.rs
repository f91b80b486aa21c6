//! `matmul(a, b, out=None, accumulate=False)`: 2-D strided operands, read in place.
//!
//! The common call, `out=None`, is on every layer's forward and backward path, and for a
//! 64 x 64 product the call costs as much as a third of the arithmetic. It reads its
//! operands through raw views instead of NumPy's borrow registry, whose bookkeeping (a
//! locked hash map, three entries per call) was a fifth of a tiny product's time: the output
//! is a new array, so nothing it writes can alias an input (as in `linear.rs`). A given `out`
//! may alias anything, so that call still goes through the registry.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::common::{
    aligned_input, borrow_error, empty_array, float_array, kernel_result, read, require_contiguous,
    require_shape, same_dtype, value_error, FloatArray,
};
use crate::kernels::matmul::{extent, matmul as matmul_kernel, MatMut, MatRef};
use crate::kernels::real::Real;

/// Describe a 2-D array as (rows, cols, row_stride, col_stride) in elements.
fn layout<T: Element>(
    name: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<(usize, usize, usize, usize)> {
    if a.ndim() != 2 {
        return Err(value_error(format!(
            "matmul: {name} must be 2-D, got shape {}",
            super::common::fmt_shape(a.shape())
        )));
    }
    let item = std::mem::size_of::<T>() as isize;
    let strides = a.strides();
    let (rs, cs) = (strides[0], strides[1]);
    if rs < 0 || cs < 0 || rs % item != 0 || cs % item != 0 {
        return Err(value_error(format!(
            "matmul: {name} has strides {strides:?}; expected non-negative multiples of {item} bytes"
        )));
    }
    Ok((
        a.shape()[0],
        a.shape()[1],
        (rs / item) as usize,
        (cs / item) as usize,
    ))
}

/// Products smaller than this many multiply-adds keep the GIL.
const GIL_RELEASE_FMAS: usize = 4096;

/// The strided `(rows, cols, row_stride, col_stride)` view of `a`, without registering a
/// borrow.
///
/// # Safety
/// `a` must stay alive and unwritten while the view is used; `shape` must be what [`layout`]
/// returned for it.
unsafe fn raw_view<'a, T: Element>(
    a: &'a Bound<'_, PyArrayDyn<T>>,
    (rows, cols, row_stride, col_stride): (usize, usize, usize, usize),
) -> MatRef<'a, T> {
    let len = extent(rows, cols, row_stride, col_stride);
    // NumPy guarantees a strided view stays inside its buffer, and `len` is exactly the span
    // it reaches; an empty view gets an empty slice (its pointer may dangle).
    let data = if len == 0 {
        &[][..]
    } else {
        std::slice::from_raw_parts(a.data() as *const T, len)
    };
    MatRef {
        data,
        rows,
        cols,
        row_stride,
        col_stride,
    }
}

fn matmul_typed<'py, T: Real + Element>(
    py: Python<'py>,
    a: &Bound<'py, PyArrayDyn<T>>,
    b_obj: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    accumulate: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let b = aligned_input(same_dtype::<T>("matmul", "b", b_obj)?)?;
    let (m, k, ars, acs) = layout("a", a)?;
    let (k2, n, brs, bcs) = layout("b", &b)?;
    if k != k2 {
        return Err(value_error(format!(
            "matmul: a has shape ({m}, {k}) and b has shape ({k2}, {n}); a's columns must equal b's rows"
        )));
    }
    let av = (m, k, ars, acs);
    let bv = (k, n, brs, bcs);
    let out: Bound<'py, PyArrayDyn<T>> = match out {
        Some(o) => {
            let o = same_dtype::<T>("matmul", "out", o)?;
            require_shape("matmul", "out", &o, &[m, n])?;
            require_contiguous("matmul", "out", &o)?;
            o
        }
        None => {
            if accumulate {
                return Err(value_error("matmul: accumulate=True needs an out array"));
            }
            // SAFETY: every element is written by the kernel before Python can read it.
            let out = unsafe { empty_array::<T>(py, &[m, n])? };
            // SAFETY: `a` and `b` stay alive (borrowed for this call) and dlcore does not
            // write them while the GIL is released here; `out` was just created, so no one
            // else can see it, and it is C-contiguous and aligned.
            unsafe {
                let (a_view, b_view) = (raw_view(a, av), raw_view(&b, bv));
                let c = std::slice::from_raw_parts_mut(out.data(), m * n);
                let c = MatMut::row_major(c, m, n);
                let run = || matmul_kernel(a_view, b_view, c, false);
                // Releasing and retaking the GIL costs about what 4096 multiply-adds do
                // (NumPy likewise keeps it for small loops).
                let result = if m.saturating_mul(n).saturating_mul(k) < GIL_RELEASE_FMAS {
                    run()
                } else {
                    py.detach(run)
                };
                kernel_result(result)?;
            }
            return Ok(out.into_any());
        }
    };
    {
        let a_guard = read("matmul", "a", a)?;
        let b_guard = read("matmul", "b", &b)?;
        let mut out_guard = out
            .try_readwrite()
            .map_err(|e| borrow_error("matmul", "out", e))?;
        // SAFETY: the guards keep the arrays alive and unaliased-for-writing; the views cover
        // exactly the extents their shapes and strides reach.
        let a_data = unsafe { std::slice::from_raw_parts(a_guard.data(), extent(m, k, ars, acs)) };
        let b_data = unsafe { std::slice::from_raw_parts(b_guard.data(), extent(k, n, brs, bcs)) };
        let c_data = out_guard
            .as_slice_mut()
            .map_err(|e| value_error(format!("matmul: out {e}")))?;
        let av = MatRef {
            data: a_data,
            rows: m,
            cols: k,
            row_stride: ars,
            col_stride: acs,
        };
        let bv = MatRef {
            data: b_data,
            rows: k,
            cols: n,
            row_stride: brs,
            col_stride: bcs,
        };
        let result =
            py.detach(|| matmul_kernel(av, bv, MatMut::row_major(c_data, m, n), accumulate));
        kernel_result(result)?;
    }
    Ok(out.into_any())
}

/// `out = a @ b` (or `out += a @ b`) for 2-D float32/float64 arrays of one dtype.
#[pyfunction]
#[pyo3(signature = (a, b, out=None, accumulate=false))]
fn matmul<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    accumulate: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("matmul", "a", a)? {
        FloatArray::F32(a) => matmul_typed(py, &a, b, out, accumulate),
        FloatArray::F64(a) => matmul_typed(py, &a, b, out, accumulate),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(matmul, m)?)?;
    Ok(())
}
