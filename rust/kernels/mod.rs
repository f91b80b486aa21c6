//! One module per kernel family. Every kernel takes plain slices plus a small params struct,
//! knows nothing of Python, and is unit-tested against a naive loop in its own file.

pub mod elementwise;
pub mod linear;
pub mod matmul;
pub mod optim;
pub mod real;
pub mod softmax;
pub mod vmath;
