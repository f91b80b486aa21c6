//! Shared checks and conversions between NumPy arrays and kernel slices.

use numpy::{
    BorrowError, Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A kernel's error message becomes a `ValueError`: kernels only fail on shapes and values.
pub fn kernel_result<T>(r: Result<T, String>) -> PyResult<T> {
    r.map_err(PyValueError::new_err)
}

pub fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// Why the array `name` could not be borrowed, in words. An input fails only when some other
/// call, in another thread with the GIL released, is writing it; an output also when it is
/// read-only or overlaps an input of the same call.
pub fn borrow_error(op: &str, name: &str, err: BorrowError) -> PyErr {
    match err {
        BorrowError::NotWriteable => {
            value_error(format!("{op}: {name} is read-only; pass a writeable array"))
        }
        BorrowError::AlreadyBorrowed => value_error(format!(
            "{op}: {name} shares memory with an array that this call or another dlcore call \
             (in another thread) is writing; pass a separate array"
        )),
        other => value_error(format!("{op}: {name}: {other}")),
    }
}

/// Borrow an input for reading, as a Python error (never a panic) when that is impossible.
pub fn read<'py, T: Element>(
    op: &str,
    name: &str,
    a: &Bound<'py, PyArrayDyn<T>>,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    a.try_readonly().map_err(|e| borrow_error(op, name, e))
}

/// A float array of either supported dtype.
pub enum FloatArray<'py> {
    F32(Bound<'py, PyArrayDyn<f32>>),
    F64(Bound<'py, PyArrayDyn<f64>>),
}

/// Accept a float32 or float64 ndarray, else a `TypeError` naming the op and argument.
pub fn float_array<'py>(
    op: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<FloatArray<'py>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        return Ok(FloatArray::F32(a.clone()));
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        return Ok(FloatArray::F64(a.clone()));
    }
    let got = obj
        .getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| obj.get_type().to_string());
    Err(PyTypeError::new_err(format!(
        "{op}: {name} must be a float32 or float64 numpy array, got {got}"
    )))
}

/// The same-dtype array `obj` must be, else a `TypeError`.
pub fn same_dtype<'py, T: Element>(
    op: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    obj.cast::<PyArrayDyn<T>>().cloned().map_err(|_| {
        let got = obj
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| "non-array".into());
        PyTypeError::new_err(format!(
            "{op}: {name} must have dtype {} like the first operand, got {got}",
            std::any::type_name::<T>()
        ))
    })
}

/// Require a C-contiguous array, with an error that says which argument was not.
pub fn require_contiguous<T: Element>(
    op: &str,
    name: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<()> {
    if a.is_c_contiguous() {
        Ok(())
    } else {
        Err(value_error(format!("{op}: {name} must be C-contiguous")))
    }
}

/// A shape written as Python writes tuples: `(3, 4)`, `(5,)`, `()`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Require an exact shape, naming what was got and what was expected.
pub fn require_shape<T: Element>(
    op: &str,
    name: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
    want: &[usize],
) -> PyResult<()> {
    if a.shape() == want {
        Ok(())
    } else {
        Err(value_error(format!(
            "{op}: {name} has shape {} but expected {}",
            fmt_shape(a.shape()),
            fmt_shape(want)
        )))
    }
}
