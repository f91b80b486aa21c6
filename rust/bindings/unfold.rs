//! `unfold2d` (im2col) and `fold2d` (col2im) on C-contiguous float32/float64 arrays, with
//! PyTorch's `(N, C*KH*KW, L)` column layout. The Python layer adds the batch axis of
//! unbatched input and makes arrays contiguous.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::buffers::cached_array;
use super::common::{
    float_array, kernel_result, read, require_contiguous, value_error, FloatArray,
};
use crate::kernels::conv::shape_str;
use crate::kernels::conv::unfold::{fold, unfold, BlockArgs, UnfoldParams};
use crate::kernels::real::Real;

/// The shape of an `N`-D array, else a ValueError naming the argument and the layout.
fn shape_n<const N: usize, T: Element>(
    op: &str,
    layout: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<[usize; N]> {
    a.shape().try_into().map_err(|_| {
        value_error(format!(
            "{op}: input must be {N}-D {layout}, got shape {}",
            shape_str(a.shape())
        ))
    })
}

/// Run `kernel(input, output)` with the GIL released, `output` a new array of `shape`.
fn run<'py, T: Real + Element>(
    op: &str,
    x: &Bound<'py, PyArrayDyn<T>>,
    shape: &[usize],
    kernel: impl FnOnce(&[T], &mut [T]) -> Result<(), String> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let out = cached_array::<T>(x.py(), shape)?;
    {
        let xg = read(op, "input", x)?;
        let mut og = out
            .try_readwrite()
            .map_err(|e| value_error(format!("{op}: {e}")))?;
        let xs = xg
            .as_slice()
            .map_err(|e| value_error(format!("{op}: {e}")))?;
        let os = og
            .as_slice_mut()
            .map_err(|e| value_error(format!("{op}: {e}")))?;
        kernel_result(x.py().detach(|| kernel(xs, os)))?;
    }
    Ok(out.into_any())
}

fn unfold_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    args: &BlockArgs,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "unfold2d";
    require_contiguous(OP, "input", x)?;
    let image = shape_n::<4, T>(OP, "(N, C, H, W)", x)?;
    let p = kernel_result(UnfoldParams::new(OP, image, args))?;
    run(OP, x, &p.columns_shape(), |xs, os| unfold(&p, xs, os))
}

fn fold_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    output_size: [i64; 2],
    args: &BlockArgs,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "fold2d";
    require_contiguous(OP, "input", x)?;
    let columns = shape_n::<3, T>(OP, "(N, C*KH*KW, L)", x)?;
    let p = kernel_result(UnfoldParams::for_columns(OP, columns, output_size, args))?;
    run(OP, x, &p.image_shape(), |xs, os| fold(&p, xs, os))
}

fn block_args(
    kernel_size: (i64, i64),
    dilation: (i64, i64),
    padding: (i64, i64),
    stride: (i64, i64),
) -> BlockArgs {
    BlockArgs {
        kernel_size: [kernel_size.0, kernel_size.1],
        dilation: [dilation.0, dilation.1],
        padding: [padding.0, padding.1],
        stride: [stride.0, stride.1],
    }
}

/// PyTorch's `unfold` (im2col): `(N, C, H, W) -> (N, C*KH*KW, L)`, row `c*KH*KW + i*KW + j`,
/// column `h*L_w + w`; `padding` is zero padding on both sides.
#[pyfunction]
#[pyo3(signature = (input, kernel_size, dilation=(1, 1), padding=(0, 0), stride=(1, 1)))]
fn unfold2d<'py>(
    input: &Bound<'py, PyAny>,
    kernel_size: (i64, i64),
    dilation: (i64, i64),
    padding: (i64, i64),
    stride: (i64, i64),
) -> PyResult<Bound<'py, PyAny>> {
    let args = block_args(kernel_size, dilation, padding, stride);
    match float_array("unfold2d", "input", input)? {
        FloatArray::F32(x) => unfold_typed(&x, &args),
        FloatArray::F64(x) => unfold_typed(&x, &args),
    }
}

/// PyTorch's `fold` (col2im), the adjoint of `unfold2d`: `(N, C*KH*KW, L) -> (N, C, H, W)`
/// with `(H, W) = output_size`, overlapping blocks summed.
#[pyfunction]
#[pyo3(signature = (input, output_size, kernel_size, dilation=(1, 1), padding=(0, 0), stride=(1, 1)))]
fn fold2d<'py>(
    input: &Bound<'py, PyAny>,
    output_size: (i64, i64),
    kernel_size: (i64, i64),
    dilation: (i64, i64),
    padding: (i64, i64),
    stride: (i64, i64),
) -> PyResult<Bound<'py, PyAny>> {
    let args = block_args(kernel_size, dilation, padding, stride);
    let size = [output_size.0, output_size.1];
    match float_array("fold2d", "input", input)? {
        FloatArray::F32(x) => fold_typed(&x, size, &args),
        FloatArray::F64(x) => fold_typed(&x, size, &args),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unfold2d, m)?)?;
    m.add_function(wrap_pyfunction!(fold2d, m)?)?;
    Ok(())
}
