//! Thread-count control.

use pyo3::prelude::*;

use crate::threading;

/// Set how many threads dlcore's kernels use (at least 1).
#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    if n < 1 {
        return Err(super::common::value_error(format!(
            "set_num_threads: n must be at least 1, got {n}"
        )));
    }
    threading::set_num_threads(usize::try_from(n).unwrap_or(usize::MAX));
    Ok(())
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
