//! glibc malloc tuning, applied once when `dlcore._core` is imported.
//!
//! glibc serves blocks above its mmap threshold with fresh `mmap`s and gives memory at the top
//! of its heap back to the kernel once more than its trim threshold is free. A training step
//! frees its activations and gradients and allocates the same sizes again on the next step,
//! so with the defaults every step faults those pages in anew: about 1.9 us per 4 KiB page on
//! our machines, 2,100 faults (~4 ms) in each LeNet step at batch 256. Raising both
//! thresholds keeps freed memory in the heap for the next step instead (down to ~50 faults
//! per step). The cost: the process's memory stays near its peak after a peak has passed,
//! instead of shrinking, by at most `TRIM_THRESHOLD` of free heap.
//!
//! Opt out with `DLCORE_MALLOC_TUNING=0`. Nothing is changed when the environment already
//! tunes malloc (`GLIBC_TUNABLES` with a `glibc.malloc.` entry, `MALLOC_MMAP_THRESHOLD_`,
//! `MALLOC_TRIM_THRESHOLD_`) or when the C library is not glibc.

use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Blocks below this come from the heap (and are reused); glibc's largest allowed value on
/// 64-bit systems (half its 64 MiB heap size). Larger blocks are still mapped and unmapped.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory at the top of the heap kept before any is returned to the kernel.
pub const TRIM_THRESHOLD: usize = 256 << 20;

/// What happened at import.
#[derive(Clone, Debug)]
struct Tuning {
    applied: bool,
    reason: &'static str,
}

static TUNING: OnceLock<Tuning> = OnceLock::new();

fn opted_out() -> bool {
    std::env::var("DLCORE_MALLOC_TUNING")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        })
        .unwrap_or(false)
}

fn environment_tunes_malloc() -> bool {
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    tunables.contains("glibc.malloc.")
        || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() -> Tuning {
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    let mmap_ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
    let trim_ok = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) };
    if mmap_ok == 1 && trim_ok == 1 {
        Tuning {
            applied: true,
            reason: "applied",
        }
    } else {
        Tuning {
            applied: false,
            reason: "mallopt refused the thresholds",
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> Tuning {
    Tuning {
        applied: false,
        reason: "the C library is not glibc",
    }
}

/// Tune malloc unless opted out; runs once per process (at module import).
pub fn tune_at_import() {
    TUNING.get_or_init(|| {
        if opted_out() {
            Tuning {
                applied: false,
                reason: "disabled by DLCORE_MALLOC_TUNING",
            }
        } else if environment_tunes_malloc() {
            Tuning {
                applied: false,
                reason: "the environment already tunes malloc",
            }
        } else {
            set_thresholds()
        }
    });
}

/// `{"applied": bool, "reason": str, "mmap_threshold": int, "trim_threshold": int}`: whether
/// dlcore raised glibc's malloc thresholds at import, and to what.
#[pyfunction]
fn malloc_tuning(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let tuning = TUNING.get().cloned().unwrap_or(Tuning {
        applied: false,
        reason: "not run",
    });
    let out = PyDict::new(py);
    out.set_item("applied", tuning.applied)?;
    out.set_item("reason", tuning.reason)?;
    out.set_item("mmap_threshold", MMAP_THRESHOLD)?;
    out.set_item("trim_threshold", TRIM_THRESHOLD)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    tune_at_import();
    m.add_function(wrap_pyfunction!(malloc_tuning, m)?)?;
    Ok(())
}
