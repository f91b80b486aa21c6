//! The `dlcore._core` extension module: an export list. Each family's file validates NumPy
//! arrays, releases the GIL and calls the kernel; no computation lives here.

use pyo3::prelude::*;

mod activation;
mod batchnorm;
mod bce_logits;
mod buffers;
mod common;
mod conv;
mod dropout;
mod linear;
mod matmul;
mod memory;
mod optim;
mod pool;
mod recurrent;
mod softmax;
mod threads;
mod unfold;

#[pymodule(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    memory::register(m)?;
    threads::register(m)?;
    matmul::register(m)?;
    linear::register(m)?;
    activation::register(m)?;
    softmax::register(m)?;
    bce_logits::register(m)?;
    conv::register(m)?;
    pool::register(m)?;
    batchnorm::register(m)?;
    dropout::register(m)?;
    optim::register(m)?;
    recurrent::register(m)?;
    unfold::register(m)?;
    Ok(())
}
