//! One module per kernel family. Every kernel takes plain slices plus a small params struct,
//! knows nothing of Python, and is unit-tested against a naive loop in its own file.

pub mod batchnorm;
pub mod bce_logits;
pub mod conv;
pub mod dropout;
pub mod elementwise;
mod gemv;
pub mod linear;
pub mod matmul;
pub mod optim;
#[cfg(target_arch = "x86_64")]
mod packed_gemm;
pub mod pool;
pub mod real;
pub mod recurrent;
pub mod simd;
pub mod softmax;
pub mod vmath;
#[cfg(target_arch = "x86_64")]
mod vmath_avx512;
pub mod workspace;
