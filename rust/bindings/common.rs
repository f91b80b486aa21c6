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

/// Accept a float32 or float64 ndarray as an input, else a `TypeError` naming the op and
/// argument.
pub fn float_array<'py>(
    op: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<FloatArray<'py>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        return Ok(FloatArray::F32(aligned_input(a.clone())?));
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        return Ok(FloatArray::F64(aligned_input(a.clone())?));
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

fn is_aligned<T: Element>(a: &Bound<'_, PyArrayDyn<T>>) -> bool {
    (a.data() as usize).is_multiple_of(std::mem::align_of::<T>())
}

/// An input array as kernels can read it: `a` itself when its data is aligned for `T`, else
/// an aligned C-contiguous copy (NumPy's `a.copy()`). A slice over a misaligned pointer is
/// undefined behaviour; NumPy makes such arrays from byte buffers at an odd offset
/// (`np.frombuffer(buf, offset=1)`) or from fields of packed structured arrays.
pub fn aligned_input<T: Element>(
    a: Bound<'_, PyArrayDyn<T>>,
) -> PyResult<Bound<'_, PyArrayDyn<T>>> {
    if is_aligned(&a) {
        return Ok(a);
    }
    Ok(a.call_method0("copy")?.cast_into::<PyArrayDyn<T>>()?)
}

/// Require a C-contiguous, aligned array, with an error that says which argument was not.
pub fn require_contiguous<T: Element>(
    op: &str,
    name: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<()> {
    if !a.is_c_contiguous() {
        return Err(value_error(format!("{op}: {name} must be C-contiguous")));
    }
    require_aligned(op, name, a)
}

/// Require the data pointer to be aligned for `T` (outputs, which cannot be copied: inputs
/// go through [`aligned_input`]).
pub fn require_aligned<T: Element>(
    op: &str,
    name: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<()> {
    if is_aligned(a) {
        Ok(())
    } else {
        Err(value_error(format!(
            "{op}: {name} is not aligned to its {}-byte elements (a view at an odd byte \
             offset?); pass an aligned array",
            std::mem::align_of::<T>()
        )))
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
