//! dlcore's compute core: kernels on plain slices, and (behind the `python` feature) the thin
//! PyO3 layer that validates NumPy arrays, releases the GIL and calls them.

pub mod kernels;
pub mod threading;

#[cfg(feature = "python")]
mod bindings;
