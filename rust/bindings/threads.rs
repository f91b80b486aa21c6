//! Thread-count control.

use pyo3::exceptions::{PyOverflowError, PyRuntimeError};
use pyo3::prelude::*;

use crate::threading;

/// Set how many threads dlcore's kernels use (1 to `threading::MAX_THREADS`).
#[pyfunction]
fn set_num_threads(n: &Bound<'_, PyAny>) -> PyResult<()> {
    let max = threading::MAX_THREADS;
    // An int too large for i64 is out of range like any other, not an OverflowError.
    let count = match n.extract::<i64>() {
        Ok(count) => count,
        Err(err) if err.is_instance_of::<PyOverflowError>(n.py()) => i64::MAX,
        Err(err) => return Err(err),
    };
    let threads = usize::try_from(count)
        .ok()
        .filter(|&t| (1..=max).contains(&t));
    let Some(threads) = threads else {
        return Err(super::common::value_error(format!(
            "set_num_threads: n must be at least 1 and at most {max}, got {n}"
        )));
    };
    threading::set_num_threads(threads).map_err(|e| {
        PyRuntimeError::new_err(format!(
            "set_num_threads: could not start {threads} threads ({e}); dlcore keeps {} threads",
            threading::num_threads()
        ))
    })
}

/// How many threads dlcore's kernels use.
#[pyfunction]
fn get_num_threads() -> usize {
    threading::num_threads()
}

/// The widest SIMD instruction set this CPU offers the kernels ("avx512f", "avx2", ...).
#[pyfunction]
fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "avx2+fma";
        }
        "sse2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    Ok(())
}
