//! Batch normalisation: `batch_norm_stats`, `batch_norm_forward`, `batch_norm_backward`.
//!
//! Inputs are C-contiguous `(N, C, *)` arrays; per-channel vectors are `(C,)` of the same
//! dtype.

use numpy::{Element, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::activation::output_like;
use super::common::{
    float_array, fmt_shape, kernel_result, require_contiguous, require_shape, same_dtype,
    value_error, FloatArray,
};
use crate::kernels::batchnorm::{self, BatchNormShape};
use crate::kernels::real::Real;

fn shape_of<T: Element>(op: &str, x: &Bound<'_, PyArrayDyn<T>>) -> PyResult<BatchNormShape> {
    let dims = x.shape();
    if dims.len() < 2 {
        return Err(value_error(format!(
            "{op}: x must be (N, C, *) with a channel dimension, got shape {}",
            fmt_shape(dims)
        )));
    }
    require_contiguous(op, "x", x)?;
    Ok(BatchNormShape {
        batch: dims[0],
        channels: dims[1],
        spatial: dims[2..].iter().product(),
    })
}

/// A `(C,)` array of dtype `T`, checked.
fn channel_vector<'py, T: Element>(
    op: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
    channels: usize,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let a = same_dtype::<T>(op, name, obj)?;
    require_shape(op, name, &a, &[channels])?;
    require_contiguous(op, name, &a)?;
    Ok(a)
}

fn slice_err(op: &'static str) -> impl Fn(numpy::AsSliceError) -> PyErr {
    move |e| value_error(format!("{op}: {e}"))
}

fn stats_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    const OP: &str = "batch_norm_stats";
    let shape = shape_of(OP, x)?;
    let py = x.py();
    // SAFETY: the kernel writes every element before Python can read them.
    let mean = unsafe { PyArray1::<T>::new(py, [shape.channels], false) };
    let var = unsafe { PyArray1::<T>::new(py, [shape.channels], false) };
    {
        let xg = x.readonly();
        let (mut mg, mut vg) = (mean.readwrite(), var.readwrite());
        let xs = xg.as_slice().map_err(slice_err(OP))?;
        let ms = mg.as_slice_mut().map_err(slice_err(OP))?;
        let vs = vg.as_slice_mut().map_err(slice_err(OP))?;
        kernel_result(py.detach(|| batchnorm::stats(shape, xs, ms, vs)))?;
    }
    Ok((mean.into_any(), var.into_any()))
}

/// Per-channel mean and biased variance of `x` `(N, C, *)`, as two `(C,)` arrays.
#[pyfunction]
fn batch_norm_stats<'py>(
    x: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    match float_array("batch_norm_stats", "x", x)? {
        FloatArray::F32(x) => stats_typed(&x),
        FloatArray::F64(x) => stats_typed(&x),
    }
}

fn forward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    mean: &Bound<'py, PyAny>,
    inv_std: &Bound<'py, PyAny>,
    weight: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "batch_norm_forward";
    let shape = shape_of(OP, x)?;
    let c = shape.channels;
    let mean = channel_vector::<T>(OP, "mean", mean, c)?;
    let inv_std = channel_vector::<T>(OP, "inv_std", inv_std, c)?;
    let weight = weight
        .map(|w| channel_vector::<T>(OP, "weight", w, c))
        .transpose()?;
    let bias = bias
        .map(|b| channel_vector::<T>(OP, "bias", b, c))
        .transpose()?;
    let out = output_like(OP, x, None)?;
    {
        let (xg, mg, ig) = (x.readonly(), mean.readonly(), inv_std.readonly());
        let wg = weight.as_ref().map(|w| w.readonly());
        let bg = bias.as_ref().map(|b| b.readonly());
        let mut og = out.readwrite();
        let err = slice_err(OP);
        let (xs, ms, is) = (
            xg.as_slice().map_err(&err)?,
            mg.as_slice().map_err(&err)?,
            ig.as_slice().map_err(&err)?,
        );
        let ws = wg
            .as_ref()
            .map(|w| w.as_slice())
            .transpose()
            .map_err(&err)?;
        let bs = bg
            .as_ref()
            .map(|b| b.as_slice())
            .transpose()
            .map_err(&err)?;
        let os = og.as_slice_mut().map_err(&err)?;
        kernel_result(
            x.py()
                .detach(|| batchnorm::forward(shape, xs, ms, is, ws, bs, os)),
        )?;
    }
    Ok(out.into_any())
}

/// `(x - mean) * inv_std * weight + bias`, per channel of `x` `(N, C, *)`.
#[pyfunction]
#[pyo3(signature = (x, mean, inv_std, weight=None, bias=None))]
fn batch_norm_forward<'py>(
    x: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    inv_std: &Bound<'py, PyAny>,
    weight: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("batch_norm_forward", "x", x)? {
        FloatArray::F32(x) => forward_typed(&x, mean, inv_std, weight, bias),
        FloatArray::F64(x) => forward_typed(&x, mean, inv_std, weight, bias),
    }
}

type Gradients<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

fn backward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    grad: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    inv_std: &Bound<'py, PyAny>,
    weight: Option<&Bound<'py, PyAny>>,
    batch_stats: bool,
) -> PyResult<Gradients<'py>> {
    const OP: &str = "batch_norm_backward";
    let shape = shape_of(OP, x)?;
    let c = shape.channels;
    let grad = same_dtype::<T>(OP, "grad", grad)?;
    require_shape(OP, "grad", &grad, x.shape())?;
    require_contiguous(OP, "grad", &grad)?;
    let mean = channel_vector::<T>(OP, "mean", mean, c)?;
    let inv_std = channel_vector::<T>(OP, "inv_std", inv_std, c)?;
    let weight = weight
        .map(|w| channel_vector::<T>(OP, "weight", w, c))
        .transpose()?;
    let py = x.py();
    let dx = output_like(OP, x, None)?;
    // SAFETY: the kernel writes every element before Python can read them.
    let dweight = unsafe { PyArray1::<T>::new(py, [c], false) };
    let dbias = unsafe { PyArray1::<T>::new(py, [c], false) };
    {
        let (xg, gg, mg, ig) = (
            x.readonly(),
            grad.readonly(),
            mean.readonly(),
            inv_std.readonly(),
        );
        let wg = weight.as_ref().map(|w| w.readonly());
        let (mut dxg, mut dwg, mut dbg) = (dx.readwrite(), dweight.readwrite(), dbias.readwrite());
        let err = slice_err(OP);
        let (xs, gs, ms, is) = (
            xg.as_slice().map_err(&err)?,
            gg.as_slice().map_err(&err)?,
            mg.as_slice().map_err(&err)?,
            ig.as_slice().map_err(&err)?,
        );
        let ws = wg
            .as_ref()
            .map(|w| w.as_slice())
            .transpose()
            .map_err(&err)?;
        let dxs = dxg.as_slice_mut().map_err(&err)?;
        let dws = dwg.as_slice_mut().map_err(&err)?;
        let dbs = dbg.as_slice_mut().map_err(&err)?;
        kernel_result(py.detach(|| {
            batchnorm::backward(shape, xs, gs, ms, is, ws, batch_stats, dxs, dws, dbs)
        }))?;
    }
    Ok((dx.into_any(), dweight.into_any(), dbias.into_any()))
}

/// Gradients `(dx, dweight, dbias)` of batch normalisation of `x` given `grad` = dL/dy.
/// `batch_stats` says whether `mean`/`inv_std` were the batch's own (training) or fixed.
#[pyfunction]
#[pyo3(signature = (x, grad, mean, inv_std, weight=None, batch_stats=true))]
fn batch_norm_backward<'py>(
    x: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    inv_std: &Bound<'py, PyAny>,
    weight: Option<&Bound<'py, PyAny>>,
    batch_stats: bool,
) -> PyResult<Gradients<'py>> {
    match float_array("batch_norm_backward", "x", x)? {
        FloatArray::F32(x) => backward_typed(&x, grad, mean, inv_std, weight, batch_stats),
        FloatArray::F64(x) => backward_typed(&x, grad, mean, inv_std, weight, batch_stats),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_norm_stats, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_forward, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_backward, m)?)?;
    Ok(())
}
