//! `conv2d_forward`, `conv2d_backward`, `pad2d`, `pad2d_backward` on C-contiguous NCHW arrays.
//!
//! Padding tuples here are (top, bottom, left, right); the Python layer converts from
//! PyTorch's conventions.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::buffers::cached_array;
use super::common::{
    float_array, kernel_result, require_contiguous, same_dtype, value_error, FloatArray,
};
use crate::kernels::conv::pad::{
    pad2d as pad2d_kernel, pad2d_backward as pad2d_bwd, Pad2dParams, PadMode,
};
use crate::kernels::conv::{
    conv2d_backward as conv_bwd, conv2d_forward as conv_fwd, shape_str, Conv2dGrads, Conv2dParams,
};
use crate::kernels::real::Real;

/// The shape of a 4-D array, else a ValueError naming the argument.
fn shape4<T: Element>(op: &str, name: &str, a: &Bound<'_, PyArrayDyn<T>>) -> PyResult<[usize; 4]> {
    let s = a.shape();
    if s.len() != 4 {
        return Err(value_error(format!(
            "{op}: {name} must be 4-D (N, C, H, W), got shape {}",
            shape_str(s)
        )));
    }
    Ok([s[0], s[1], s[2], s[3]])
}

fn slice_err(op: &'static str) -> impl Fn(numpy::AsSliceError) -> PyErr {
    move |e| value_error(format!("{op}: {e}"))
}

struct Geometry {
    stride: [i64; 2],
    padding: [i64; 4],
    dilation: [i64; 2],
    groups: i64,
}

fn params<T: Element>(
    op: &str,
    x: &Bound<'_, PyArrayDyn<T>>,
    w: &Bound<'_, PyArrayDyn<T>>,
    g: &Geometry,
) -> PyResult<Conv2dParams> {
    require_contiguous(op, "input", x)?;
    require_contiguous(op, "weight", w)?;
    let xs = shape4(op, "input", x)?;
    let ws = shape4(op, "weight", w)?;
    kernel_result(Conv2dParams::new(
        xs, ws, g.stride, g.padding, g.dilation, g.groups,
    ))
}

fn forward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    w: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    g: &Geometry,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "conv2d";
    let w = same_dtype::<T>(OP, "weight", w)?;
    let p = params(OP, x, &w, g)?;
    let bias = bias.map(|b| same_dtype::<T>(OP, "bias", b)).transpose()?;
    if let Some(b) = &bias {
        require_contiguous(OP, "bias", b)?;
        if b.shape() != [p.out_channels] {
            return Err(value_error(format!(
                "{OP}: bias has shape {} but weight {} needs ({},)",
                shape_str(b.shape()),
                shape_str(&p.weight_shape()),
                p.out_channels
            )));
        }
    }
    let out = cached_array::<T>(x.py(), &p.output_shape())?;
    {
        let (xg, wg) = (x.readonly(), w.readonly());
        let bg = bias.as_ref().map(|b| b.readonly());
        let mut og = out
            .try_readwrite()
            .map_err(|e| value_error(format!("{OP}: {e}")))?;
        let xs = xg.as_slice().map_err(slice_err(OP))?;
        let ws = wg.as_slice().map_err(slice_err(OP))?;
        let bs = bg
            .as_ref()
            .map(|b| b.as_slice())
            .transpose()
            .map_err(slice_err(OP))?;
        let os = og.as_slice_mut().map_err(slice_err(OP))?;
        kernel_result(x.py().detach(|| conv_fwd(&p, xs, ws, bs, os)))?;
    }
    Ok(out.into_any())
}

#[allow(clippy::too_many_arguments)]
fn backward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    w: &Bound<'py, PyAny>,
    grad_output: &Bound<'py, PyAny>,
    g: &Geometry,
    need: [bool; 3],
) -> PyResult<Bound<'py, PyTuple>> {
    const OP: &str = "conv2d_backward";
    let py = x.py();
    let w = same_dtype::<T>(OP, "weight", w)?;
    let go = same_dtype::<T>(OP, "grad_output", grad_output)?;
    let p = params(OP, x, &w, g)?;
    require_contiguous(OP, "grad_output", &go)?;
    if go.shape() != p.output_shape() {
        return Err(value_error(format!(
            "{OP}: grad_output has shape {} but the output of input {} and weight {} has shape {}",
            shape_str(go.shape()),
            shape_str(&p.input_shape()),
            shape_str(&p.weight_shape()),
            shape_str(&p.output_shape())
        )));
    }
    let dx = need[0]
        .then(|| cached_array::<T>(py, &p.input_shape()))
        .transpose()?;
    let dw = need[1]
        .then(|| cached_array::<T>(py, &p.weight_shape()))
        .transpose()?;
    let db = need[2]
        .then(|| cached_array::<T>(py, &[p.out_channels]))
        .transpose()?;
    {
        let (xg, wg, gg) = (x.readonly(), w.readonly(), go.readonly());
        let err = |e| value_error(format!("{OP}: {e}"));
        let mut dxg = dx
            .as_ref()
            .map(|a| a.try_readwrite())
            .transpose()
            .map_err(err)?;
        let mut dwg = dw
            .as_ref()
            .map(|a| a.try_readwrite())
            .transpose()
            .map_err(err)?;
        let mut dbg = db
            .as_ref()
            .map(|a| a.try_readwrite())
            .transpose()
            .map_err(err)?;
        let serr = slice_err(OP);
        let xs = xg.as_slice().map_err(&serr)?;
        let ws = wg.as_slice().map_err(&serr)?;
        let gs = gg.as_slice().map_err(&serr)?;
        let grads = Conv2dGrads {
            input: dxg
                .as_mut()
                .map(|a| a.as_slice_mut())
                .transpose()
                .map_err(&serr)?,
            weight: dwg
                .as_mut()
                .map(|a| a.as_slice_mut())
                .transpose()
                .map_err(&serr)?,
            bias: dbg
                .as_mut()
                .map(|a| a.as_slice_mut())
                .transpose()
                .map_err(&serr)?,
        };
        kernel_result(py.detach(|| conv_bwd(&p, xs, ws, gs, grads)))?;
    }
    let any = |a: Option<Bound<'py, PyArrayDyn<T>>>| -> Bound<'py, PyAny> {
        a.map_or_else(|| py.None().into_bound(py), |a| a.into_any())
    };
    PyTuple::new(py, [any(dx), any(dw), any(db)])
}

/// `conv2d(input, weight) + bias` for C-contiguous NCHW float32/float64 arrays of one dtype.
/// `padding` is zero padding (top, bottom, left, right).
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1))]
fn conv2d_forward<'py>(
    input: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    stride: (i64, i64),
    padding: (i64, i64, i64, i64),
    dilation: (i64, i64),
    groups: i64,
) -> PyResult<Bound<'py, PyAny>> {
    let g = Geometry {
        stride: [stride.0, stride.1],
        padding: [padding.0, padding.1, padding.2, padding.3],
        dilation: [dilation.0, dilation.1],
        groups,
    };
    match float_array("conv2d", "input", input)? {
        FloatArray::F32(x) => forward_typed(&x, weight, bias, &g),
        FloatArray::F64(x) => forward_typed(&x, weight, bias, &g),
    }
}

/// `(grad_input, grad_weight, grad_bias)` of `conv2d_forward`; each is None unless asked for.
#[pyfunction]
#[pyo3(signature = (input, weight, grad_output, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1, input_grad=true, weight_grad=true, bias_grad=true))]
#[allow(clippy::too_many_arguments)]
fn conv2d_backward<'py>(
    input: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    grad_output: &Bound<'py, PyAny>,
    stride: (i64, i64),
    padding: (i64, i64, i64, i64),
    dilation: (i64, i64),
    groups: i64,
    input_grad: bool,
    weight_grad: bool,
    bias_grad: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let g = Geometry {
        stride: [stride.0, stride.1],
        padding: [padding.0, padding.1, padding.2, padding.3],
        dilation: [dilation.0, dilation.1],
        groups,
    };
    let need = [input_grad, weight_grad, bias_grad];
    match float_array("conv2d_backward", "input", input)? {
        FloatArray::F32(x) => backward_typed(&x, weight, grad_output, &g, need),
        FloatArray::F64(x) => backward_typed(&x, weight, grad_output, &g, need),
    }
}

fn pad_params(
    shape: &[usize],
    pad: (i64, i64, i64, i64),
    mode: &str,
    value: f64,
) -> PyResult<Pad2dParams> {
    let mode = kernel_result(PadMode::from_name(mode, value))?;
    kernel_result(Pad2dParams::new(shape, [pad.0, pad.1, pad.2, pad.3], mode))
}

fn pad_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    pad: (i64, i64, i64, i64),
    mode: &str,
    value: f64,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "pad";
    require_contiguous(OP, "input", x)?;
    let p = pad_params(x.shape(), pad, mode, value)?;
    let (oh, ow) = p.out_dims();
    let mut shape = x.shape().to_vec();
    let n = shape.len();
    shape[n - 2] = oh;
    shape[n - 1] = ow;
    let out = cached_array::<T>(x.py(), &shape)?;
    {
        let xg = x.readonly();
        let mut og = out
            .try_readwrite()
            .map_err(|e| value_error(format!("{OP}: {e}")))?;
        let xs = xg.as_slice().map_err(slice_err(OP))?;
        let os = og.as_slice_mut().map_err(slice_err(OP))?;
        kernel_result(x.py().detach(|| pad2d_kernel(&p, xs, os)))?;
    }
    Ok(out.into_any())
}

fn pad_backward_typed<'py, T: Real + Element>(
    g: &Bound<'py, PyArrayDyn<T>>,
    pad: (i64, i64, i64, i64),
    mode: &str,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "pad_backward";
    require_contiguous(OP, "grad_output", g)?;
    let gs = g.shape();
    let n = gs.len();
    let inner = |size: usize, a: i64, b: i64| -> PyResult<usize> {
        usize::try_from(size as i64 - a.max(0) - b.max(0)).map_err(|_| {
            value_error(format!(
                "{OP}: grad_output {} is smaller than the padding ({a}, {b})",
                shape_str(gs)
            ))
        })
    };
    if n < 2 {
        return Err(value_error(format!(
            "{OP}: grad_output {} needs at least 2 dimensions",
            shape_str(gs)
        )));
    }
    let mut shape = gs.to_vec();
    shape[n - 2] = inner(gs[n - 2], pad.0, pad.1)?;
    shape[n - 1] = inner(gs[n - 1], pad.2, pad.3)?;
    let p = pad_params(&shape, pad, mode, 0.0)?;
    let dx = cached_array::<T>(g.py(), &shape)?;
    {
        let gg = g.readonly();
        let mut dg = dx
            .try_readwrite()
            .map_err(|e| value_error(format!("{OP}: {e}")))?;
        let gsl = gg.as_slice().map_err(slice_err(OP))?;
        let ds = dg.as_slice_mut().map_err(slice_err(OP))?;
        kernel_result(g.py().detach(|| pad2d_bwd(&p, gsl, ds)))?;
    }
    Ok(dx.into_any())
}

/// Pad the last two axes by (top, bottom, left, right) in mode "constant" (with `value`),
/// "reflect", "replicate" or "circular".
#[pyfunction]
#[pyo3(signature = (input, pad, mode="constant", value=0.0))]
fn pad2d<'py>(
    input: &Bound<'py, PyAny>,
    pad: (i64, i64, i64, i64),
    mode: &str,
    value: f64,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("pad", "input", input)? {
        FloatArray::F32(x) => pad_typed(&x, pad, mode, value),
        FloatArray::F64(x) => pad_typed(&x, pad, mode, value),
    }
}

/// The gradient of `pad2d` with respect to its input.
#[pyfunction]
#[pyo3(signature = (grad_output, pad, mode="constant"))]
fn pad2d_backward<'py>(
    grad_output: &Bound<'py, PyAny>,
    pad: (i64, i64, i64, i64),
    mode: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("pad_backward", "grad_output", grad_output)? {
        FloatArray::F32(g) => pad_backward_typed(&g, pad, mode),
        FloatArray::F64(g) => pad_backward_typed(&g, pad, mode),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(conv2d_forward, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(pad2d, m)?)?;
    m.add_function(wrap_pyfunction!(pad2d_backward, m)?)?;
    Ok(())
}
