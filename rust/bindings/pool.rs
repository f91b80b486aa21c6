//! Pooling on C-contiguous NCHW arrays: max/min (with int32 indices, or uint8 2x2 pick codes,
//! for the backward), average, adaptive max/min (int64 indices) and adaptive average.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::buffers::cached_array;
use super::common::{
    aligned_input, float_array, kernel_result, read, require_contiguous, value_error, FloatArray,
};
use crate::kernels::conv::shape_str;
use crate::kernels::pool::{
    adaptive_avg_pool2d_backward as adaptive_bwd, adaptive_avg_pool2d_forward as adaptive_fwd,
    adaptive_extremum_pool2d_backward as adaptive_extremum_bwd,
    adaptive_extremum_pool2d_forward as adaptive_extremum_fwd, avg_pool2d_backward as avg_bwd,
    avg_pool2d_forward as avg_fwd, extremum_pool2d_backward, extremum_pool2d_backward_2x2,
    extremum_pool2d_forward, extremum_pool2d_forward_2x2, AdaptivePool2dParams, Extremum,
    Pool2dParams, PoolIndex,
};
use crate::kernels::real::Real;

fn shape4(op: &str, name: &str, s: &[usize]) -> PyResult<[usize; 4]> {
    if s.len() != 4 {
        return Err(value_error(format!(
            "{op}: {name} must be 4-D (N, C, H, W), got shape {}",
            shape_str(s)
        )));
    }
    Ok([s[0], s[1], s[2], s[3]])
}

fn err(op: &'static str) -> impl Fn(numpy::AsSliceError) -> PyErr {
    move |e| value_error(format!("{op}: {e}"))
}

fn borrow_err(op: &'static str) -> impl Fn(numpy::BorrowError) -> PyErr {
    move |e| value_error(format!("{op}: {e}"))
}

/// The windowed-pooling geometry shared by max, min and average pooling.
#[derive(Clone, Copy)]
struct Window {
    kernel: (i64, i64),
    stride: (i64, i64),
    padding: (i64, i64),
    dilation: (i64, i64),
    ceil_mode: bool,
}

impl Window {
    fn params(&self, op: &'static str, input: [usize; 4]) -> PyResult<Pool2dParams> {
        kernel_result(Pool2dParams::new(
            op,
            input,
            [self.kernel.0, self.kernel.1],
            [self.stride.0, self.stride.1],
            [self.padding.0, self.padding.1],
            [self.dilation.0, self.dilation.1],
            self.ceil_mode,
        ))
    }
}

fn kind_of(kind: &str) -> PyResult<(Extremum, &'static str)> {
    match kind {
        "max" => Ok((Extremum::Max, "max_pool2d")),
        "min" => Ok((Extremum::Min, "min_pool2d")),
        other => Err(value_error(format!(
            "pool: kind must be 'max' or 'min', got {other:?}"
        ))),
    }
}

fn extremum_forward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    kind: &str,
    win: Window,
    with_indices: bool,
    compact: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let (which, op) = kind_of(kind)?;
    let py = x.py();
    require_contiguous(op, "input", x)?;
    let p = win.params(op, shape4(op, "input", x.shape())?)?;
    let out = cached_array::<T>(py, &p.output_shape())?;
    let codes = with_indices && compact && p.is_2x2_tiling();
    let idx = if !with_indices {
        py.None().into_bound(py)
    } else if codes {
        cached_array::<u8>(py, &p.output_shape())?.into_any()
    } else {
        cached_array::<i32>(py, &p.output_shape())?.into_any()
    };
    {
        let xg = read(op, "input", x)?;
        let mut og = out.try_readwrite().map_err(borrow_err(op))?;
        let xs = xg.as_slice().map_err(err(op))?;
        let os = og.as_slice_mut().map_err(err(op))?;
        if codes {
            let c = idx.cast::<PyArrayDyn<u8>>()?;
            let mut cg = c.try_readwrite().map_err(borrow_err(op))?;
            let cs = cg.as_slice_mut().map_err(err(op))?;
            kernel_result(py.detach(|| extremum_pool2d_forward_2x2(&p, which, xs, os, cs)))?;
        } else if with_indices {
            let i = idx.cast::<PyArrayDyn<i32>>()?;
            let mut ig = i.try_readwrite().map_err(borrow_err(op))?;
            let is = ig.as_slice_mut().map_err(err(op))?;
            kernel_result(py.detach(|| extremum_pool2d_forward(&p, which, xs, os, Some(is))))?;
        } else {
            kernel_result(
                py.detach(|| extremum_pool2d_forward::<T, i32>(&p, which, xs, os, None)),
            )?;
        }
    }
    PyTuple::new(py, [out.into_any(), idx])
}

/// The input gradient `grad_input[indices[o]] += grad_output[o]` (per plane) by `kernel`,
/// after checking the indices against the gradient.
fn backward_through_indices<'py, T: Real + Element, I: PoolIndex + Element>(
    op: &'static str,
    g: &Bound<'py, PyArrayDyn<T>>,
    idx: &Bound<'py, PyArrayDyn<I>>,
    input_shape: [usize; 4],
    kernel: impl FnOnce(&[T], &[I], &mut [T]) -> Result<(), String> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let py = g.py();
    let idx = aligned_input(idx.clone())?;
    require_contiguous(op, "indices", &idx)?;
    if idx.shape() != g.shape() {
        return Err(value_error(format!(
            "{op}: indices has shape {} but grad_output has shape {}",
            shape_str(idx.shape()),
            shape_str(g.shape())
        )));
    }
    let dx = cached_array::<T>(py, &input_shape)?;
    {
        let (gg, ig) = (read(op, "grad_output", g)?, read(op, "indices", &idx)?);
        let mut dg = dx.try_readwrite().map_err(borrow_err(op))?;
        let gs = gg.as_slice().map_err(err(op))?;
        let is = ig.as_slice().map_err(err(op))?;
        let ds = dg.as_slice_mut().map_err(err(op))?;
        kernel_result(py.detach(|| kernel(gs, is, ds)))?;
    }
    Ok(dx.into_any())
}

fn extremum_backward_typed<'py, T: Real + Element, I: PoolIndex + Element>(
    op: &'static str,
    g: &Bound<'py, PyArrayDyn<T>>,
    idx: &Bound<'py, PyArrayDyn<I>>,
    p: &Pool2dParams,
) -> PyResult<Bound<'py, PyAny>> {
    backward_through_indices(op, g, idx, p.input_shape(), |gs, is, ds| {
        extremum_pool2d_backward(p, gs, is, ds)
    })
}

/// The backward from uint8 2x2 pick codes (see `extremum_pool2d_forward_2x2`).
fn extremum_backward_codes<'py, T: Real + Element>(
    op: &'static str,
    g: &Bound<'py, PyArrayDyn<T>>,
    codes: &Bound<'py, PyArrayDyn<u8>>,
    p: &Pool2dParams,
) -> PyResult<Bound<'py, PyAny>> {
    let py = g.py();
    require_contiguous(op, "indices", codes)?;
    if codes.shape() != g.shape() {
        return Err(value_error(format!(
            "{op}: indices has shape {} but grad_output has shape {}",
            shape_str(codes.shape()),
            shape_str(g.shape())
        )));
    }
    let dx = cached_array::<T>(py, &p.input_shape())?;
    {
        let (gg, cg) = (read(op, "grad_output", g)?, read(op, "indices", codes)?);
        let mut dg = dx.try_readwrite().map_err(borrow_err(op))?;
        let gs = gg.as_slice().map_err(err(op))?;
        let cs = cg.as_slice().map_err(err(op))?;
        let ds = dg.as_slice_mut().map_err(err(op))?;
        kernel_result(py.detach(|| extremum_pool2d_backward_2x2(p, gs, cs, ds)))?;
    }
    Ok(dx.into_any())
}

fn check_grad<T: Element>(op: &str, g: &Bound<'_, PyArrayDyn<T>>, want: &[usize]) -> PyResult<()> {
    require_contiguous(op, "grad_output", g)?;
    if g.shape() != want {
        return Err(value_error(format!(
            "{op}: grad_output has shape {} but the pooled output has shape {}",
            shape_str(g.shape()),
            shape_str(want)
        )));
    }
    Ok(())
}

fn extremum_backward_dispatch<'py, T: Real + Element>(
    g: &Bound<'py, PyArrayDyn<T>>,
    indices: &Bound<'py, PyAny>,
    input_shape: [usize; 4],
    kind: &str,
    win: Window,
) -> PyResult<Bound<'py, PyAny>> {
    let (_, op) = kind_of(kind)?;
    let p = win.params(op, input_shape)?;
    check_grad(op, g, &p.output_shape())?;
    if let Ok(c) = indices.cast::<PyArrayDyn<u8>>() {
        return extremum_backward_codes(op, g, c, &p);
    }
    if let Ok(i) = indices.cast::<PyArrayDyn<i32>>() {
        return extremum_backward_typed(op, g, i, &p);
    }
    if let Ok(i) = indices.cast::<PyArrayDyn<i64>>() {
        return extremum_backward_typed(op, g, i, &p);
    }
    Err(PyTypeError::new_err(format!(
        "{op}: indices must be an int32 or int64 numpy array (or uint8 2x2 pick codes)"
    )))
}

/// Max or min pooling (`kind` "max"/"min"): `(output, indices)`, where `indices` (int32,
/// the flat `ih * W + iw` of each pick in its plane) is None unless `with_indices`. With
/// `compact`, 2x2 windows of stride 2 that tile the input record uint8 pick codes (0..=3,
/// the place in the window) instead; both forms are accepted by the backward.
#[pyfunction]
#[pyo3(signature = (input, kind, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=false, with_indices=true, compact=false))]
#[allow(clippy::too_many_arguments)]
fn extremum_pool2d<'py>(
    input: &Bound<'py, PyAny>,
    kind: &str,
    kernel_size: (i64, i64),
    stride: (i64, i64),
    padding: (i64, i64),
    dilation: (i64, i64),
    ceil_mode: bool,
    with_indices: bool,
    compact: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let win = Window {
        kernel: kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    };
    let (_, op) = kind_of(kind)?;
    match float_array(op, "input", input)? {
        FloatArray::F32(x) => extremum_forward_typed(&x, kind, win, with_indices, compact),
        FloatArray::F64(x) => extremum_forward_typed(&x, kind, win, with_indices, compact),
    }
}

/// The input gradient of `extremum_pool2d`: each output's gradient goes to its index.
#[pyfunction]
#[pyo3(name = "extremum_pool2d_backward")]
#[pyo3(signature = (grad_output, indices, input_shape, kind, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=false))]
#[allow(clippy::too_many_arguments)]
fn extremum_pool2d_backward_py<'py>(
    grad_output: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
    input_shape: (usize, usize, usize, usize),
    kind: &str,
    kernel_size: (i64, i64),
    stride: (i64, i64),
    padding: (i64, i64),
    dilation: (i64, i64),
    ceil_mode: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let win = Window {
        kernel: kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    };
    let shape = [input_shape.0, input_shape.1, input_shape.2, input_shape.3];
    let (_, op) = kind_of(kind)?;
    match float_array(op, "grad_output", grad_output)? {
        FloatArray::F32(g) => extremum_backward_dispatch(&g, indices, shape, kind, win),
        FloatArray::F64(g) => extremum_backward_dispatch(&g, indices, shape, kind, win),
    }
}

fn avg_forward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    win: Window,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "avg_pool2d";
    require_contiguous(OP, "input", x)?;
    let p = win.params(OP, shape4(OP, "input", x.shape())?)?;
    let out = cached_array::<T>(x.py(), &p.output_shape())?;
    {
        let xg = read(OP, "input", x)?;
        let mut og = out.try_readwrite().map_err(borrow_err(OP))?;
        let xs = xg.as_slice().map_err(err(OP))?;
        let os = og.as_slice_mut().map_err(err(OP))?;
        kernel_result(
            x.py()
                .detach(|| avg_fwd(&p, count_include_pad, divisor_override, xs, os)),
        )?;
    }
    Ok(out.into_any())
}

fn avg_backward_typed<'py, T: Real + Element>(
    g: &Bound<'py, PyArrayDyn<T>>,
    input_shape: [usize; 4],
    win: Window,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "avg_pool2d";
    let p = win.params(OP, input_shape)?;
    check_grad(OP, g, &p.output_shape())?;
    let dx = cached_array::<T>(g.py(), &p.input_shape())?;
    {
        let gg = read(OP, "grad_output", g)?;
        let mut dg = dx.try_readwrite().map_err(borrow_err(OP))?;
        let gs = gg.as_slice().map_err(err(OP))?;
        let ds = dg.as_slice_mut().map_err(err(OP))?;
        kernel_result(
            g.py()
                .detach(|| avg_bwd(&p, count_include_pad, divisor_override, gs, ds)),
        )?;
    }
    Ok(dx.into_any())
}

/// Average pooling; the divisor is the window clipped to the padded input
/// (`count_include_pad`) or to the input, or `divisor_override`.
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride, padding=(0, 0), ceil_mode=false, count_include_pad=true, divisor_override=None))]
fn avg_pool2d<'py>(
    input: &Bound<'py, PyAny>,
    kernel_size: (i64, i64),
    stride: (i64, i64),
    padding: (i64, i64),
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let win = Window {
        kernel: kernel_size,
        stride,
        padding,
        dilation: (1, 1),
        ceil_mode,
    };
    match float_array("avg_pool2d", "input", input)? {
        FloatArray::F32(x) => avg_forward_typed(&x, win, count_include_pad, divisor_override),
        FloatArray::F64(x) => avg_forward_typed(&x, win, count_include_pad, divisor_override),
    }
}

/// The input gradient of `avg_pool2d`.
#[pyfunction]
#[pyo3(signature = (grad_output, input_shape, kernel_size, stride, padding=(0, 0), ceil_mode=false, count_include_pad=true, divisor_override=None))]
#[allow(clippy::too_many_arguments)]
fn avg_pool2d_backward<'py>(
    grad_output: &Bound<'py, PyAny>,
    input_shape: (usize, usize, usize, usize),
    kernel_size: (i64, i64),
    stride: (i64, i64),
    padding: (i64, i64),
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let win = Window {
        kernel: kernel_size,
        stride,
        padding,
        dilation: (1, 1),
        ceil_mode,
    };
    let s = [input_shape.0, input_shape.1, input_shape.2, input_shape.3];
    match float_array("avg_pool2d", "grad_output", grad_output)? {
        FloatArray::F32(g) => avg_backward_typed(&g, s, win, count_include_pad, divisor_override),
        FloatArray::F64(g) => avg_backward_typed(&g, s, win, count_include_pad, divisor_override),
    }
}

fn adaptive_forward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    output_size: (i64, i64),
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "adaptive_avg_pool2d";
    require_contiguous(OP, "input", x)?;
    let p = kernel_result(AdaptivePool2dParams::new(
        OP,
        shape4(OP, "input", x.shape())?,
        [output_size.0, output_size.1],
    ))?;
    let out = cached_array::<T>(x.py(), &p.output_shape())?;
    {
        let xg = read(OP, "input", x)?;
        let mut og = out.try_readwrite().map_err(borrow_err(OP))?;
        let xs = xg.as_slice().map_err(err(OP))?;
        let os = og.as_slice_mut().map_err(err(OP))?;
        kernel_result(x.py().detach(|| adaptive_fwd(&p, xs, os)))?;
    }
    Ok(out.into_any())
}

fn adaptive_backward_typed<'py, T: Real + Element>(
    g: &Bound<'py, PyArrayDyn<T>>,
    input_shape: [usize; 4],
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "adaptive_avg_pool2d";
    let gs = shape4(OP, "grad_output", g.shape())?;
    let p = kernel_result(AdaptivePool2dParams::new(
        OP,
        input_shape,
        [gs[2] as i64, gs[3] as i64],
    ))?;
    check_grad(OP, g, &p.output_shape())?;
    let dx = cached_array::<T>(g.py(), &p.input_shape())?;
    {
        let gg = read(OP, "grad_output", g)?;
        let mut dg = dx.try_readwrite().map_err(borrow_err(OP))?;
        let gsl = gg.as_slice().map_err(err(OP))?;
        let ds = dg.as_slice_mut().map_err(err(OP))?;
        kernel_result(g.py().detach(|| adaptive_bwd(&p, gsl, ds)))?;
    }
    Ok(dx.into_any())
}

/// Adaptive average pooling to `output_size` (H_out, W_out).
#[pyfunction]
fn adaptive_avg_pool2d<'py>(
    input: &Bound<'py, PyAny>,
    output_size: (i64, i64),
) -> PyResult<Bound<'py, PyAny>> {
    match float_array("adaptive_avg_pool2d", "input", input)? {
        FloatArray::F32(x) => adaptive_forward_typed(&x, output_size),
        FloatArray::F64(x) => adaptive_forward_typed(&x, output_size),
    }
}

/// The input gradient of `adaptive_avg_pool2d`; the output size is `grad_output`'s.
#[pyfunction]
fn adaptive_avg_pool2d_backward<'py>(
    grad_output: &Bound<'py, PyAny>,
    input_shape: (usize, usize, usize, usize),
) -> PyResult<Bound<'py, PyAny>> {
    let s = [input_shape.0, input_shape.1, input_shape.2, input_shape.3];
    match float_array("adaptive_avg_pool2d", "grad_output", grad_output)? {
        FloatArray::F32(g) => adaptive_backward_typed(&g, s),
        FloatArray::F64(g) => adaptive_backward_typed(&g, s),
    }
}

fn adaptive_kind_of(kind: &str) -> PyResult<(Extremum, &'static str)> {
    match kind {
        "max" => Ok((Extremum::Max, "adaptive_max_pool2d")),
        "min" => Ok((Extremum::Min, "adaptive_min_pool2d")),
        other => Err(value_error(format!(
            "adaptive pool: kind must be 'max' or 'min', got {other:?}"
        ))),
    }
}

fn adaptive_extremum_forward_typed<'py, T: Real + Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    kind: &str,
    output_size: (i64, i64),
) -> PyResult<Bound<'py, PyTuple>> {
    let (which, op) = adaptive_kind_of(kind)?;
    let py = x.py();
    require_contiguous(op, "input", x)?;
    let input = shape4(op, "input", x.shape())?;
    let p = kernel_result(AdaptivePool2dParams::new(
        op,
        input,
        [output_size.0, output_size.1],
    ))?;
    let out = cached_array::<T>(py, &p.output_shape())?;
    let idx = cached_array::<i64>(py, &p.output_shape())?;
    {
        let xg = read(op, "input", x)?;
        let mut og = out.try_readwrite().map_err(borrow_err(op))?;
        let mut ig = idx.try_readwrite().map_err(borrow_err(op))?;
        let xs = xg.as_slice().map_err(err(op))?;
        let os = og.as_slice_mut().map_err(err(op))?;
        let is = ig.as_slice_mut().map_err(err(op))?;
        kernel_result(py.detach(|| adaptive_extremum_fwd(&p, which, xs, os, is)))?;
    }
    PyTuple::new(py, [out.into_any(), idx.into_any()])
}

fn adaptive_extremum_backward_typed<'py, T: Real + Element, I: PoolIndex + Element>(
    g: &Bound<'py, PyArrayDyn<T>>,
    idx: &Bound<'py, PyArrayDyn<I>>,
    p: &AdaptivePool2dParams,
) -> PyResult<Bound<'py, PyAny>> {
    check_grad(p.op, g, &p.output_shape())?;
    backward_through_indices(p.op, g, idx, p.input_shape(), |gs, is, ds| {
        adaptive_extremum_bwd(p, gs, is, ds)
    })
}

fn adaptive_extremum_backward_dispatch<'py, T: Real + Element>(
    g: &Bound<'py, PyArrayDyn<T>>,
    indices: &Bound<'py, PyAny>,
    input_shape: [usize; 4],
    kind: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let (_, op) = adaptive_kind_of(kind)?;
    let gs = shape4(op, "grad_output", g.shape())?;
    let p = kernel_result(AdaptivePool2dParams::new(
        op,
        input_shape,
        [gs[2] as i64, gs[3] as i64],
    ))?;
    if let Ok(i) = indices.cast::<PyArrayDyn<i64>>() {
        return adaptive_extremum_backward_typed(g, i, &p);
    }
    if let Ok(i) = indices.cast::<PyArrayDyn<i32>>() {
        return adaptive_extremum_backward_typed(g, i, &p);
    }
    Err(PyTypeError::new_err(format!(
        "{op}: indices must be an int64 or int32 numpy array"
    )))
}

/// Adaptive max or min pooling (`kind` "max"/"min") to `output_size` (H_out, W_out):
/// `(output, indices)`, `indices` int64, the flat `ih * W + iw` of each pick in its plane.
#[pyfunction]
fn adaptive_extremum_pool2d<'py>(
    input: &Bound<'py, PyAny>,
    kind: &str,
    output_size: (i64, i64),
) -> PyResult<Bound<'py, PyTuple>> {
    let (_, op) = adaptive_kind_of(kind)?;
    match float_array(op, "input", input)? {
        FloatArray::F32(x) => adaptive_extremum_forward_typed(&x, kind, output_size),
        FloatArray::F64(x) => adaptive_extremum_forward_typed(&x, kind, output_size),
    }
}

/// The input gradient of `adaptive_extremum_pool2d`, routed through its `indices`; the
/// output size is `grad_output`'s.
#[pyfunction]
fn adaptive_extremum_pool2d_backward<'py>(
    grad_output: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
    input_shape: (usize, usize, usize, usize),
    kind: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let (_, op) = adaptive_kind_of(kind)?;
    let s = [input_shape.0, input_shape.1, input_shape.2, input_shape.3];
    match float_array(op, "grad_output", grad_output)? {
        FloatArray::F32(g) => adaptive_extremum_backward_dispatch(&g, indices, s, kind),
        FloatArray::F64(g) => adaptive_extremum_backward_dispatch(&g, indices, s, kind),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(extremum_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(extremum_pool2d_backward_py, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_avg_pool2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_extremum_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_extremum_pool2d_backward, m)?)?;
    Ok(())
}
