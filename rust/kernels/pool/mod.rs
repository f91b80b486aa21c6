//! 2-D pooling on NCHW arrays, forward and backward: max, min (no mainstream framework has
//! it; image work uses it for dark regions), average, and adaptive max, min and average.
//!
//! Semantics follow PyTorch: `H_out = floor((H + 2p - d(k-1) - 1 + (ceil_mode ? s-1 : 0)) / s) + 1`,
//! where in ceil mode the last window must start inside the input or the left padding; max
//! and min pooling skip padding, pick the first extremum on ties and propagate NaN (a NaN is
//! selected, the last one if several); average pooling divides by the window clipped to the
//! padded input (`count_include_pad`) or to the input. Max/min forward records the flat index
//! `ih * W + iw` of each selected element, and backward routes the gradient there; for 2x2
//! windows of stride 2 it can record a one-byte code per window instead (the pick's place in
//! it), whose backward writes every input gradient once, with no clearing pass.
//!
//! Every plane `(n, c)` is independent, so all kernels run over chunks of planes in parallel.

mod average;
mod extremum;
#[cfg(test)]
mod tests;

pub use average::{
    adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward,
    avg_pool2d_forward,
};
pub use extremum::{
    adaptive_extremum_pool2d_backward, adaptive_extremum_pool2d_forward, extremum_pool2d_backward,
    extremum_pool2d_backward_2x2, extremum_pool2d_forward, extremum_pool2d_forward_2x2,
};

use crate::kernels::conv::shape_str;

/// Elements touched per parallel task below which a task is not split further.
const GRAIN: usize = 1 << 15;

fn pair(p: (usize, usize)) -> String {
    format!("({}, {})", p.0, p.1)
}

/// Index types the max/min kernels can record (NumPy's int32 and int64).
pub trait PoolIndex: Copy + Send + Sync + 'static {
    fn from_usize(v: usize) -> Self;
    /// `None` for a negative index (an empty window).
    fn to_usize(self) -> Option<usize>;
    fn to_i64(self) -> i64;
    const NONE: Self;
}

impl PoolIndex for i32 {
    fn from_usize(v: usize) -> Self {
        v as i32
    }
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    const NONE: Self = -1;
}

impl PoolIndex for i64 {
    fn from_usize(v: usize) -> Self {
        v as i64
    }
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self
    }
    const NONE: Self = -1;
}

/// The geometry of one windowed pooling call, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// The op name used in messages ("max_pool2d", ...).
    pub op: &'static str,
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub ceil_mode: bool,
}

fn positive(op: &str, name: &str, v: [i64; 2]) -> Result<(usize, usize), String> {
    if v[0] <= 0 || v[1] <= 0 {
        return Err(format!(
            "{op}: {name} must be positive, got ({}, {})",
            v[0], v[1]
        ));
    }
    Ok((v[0] as usize, v[1] as usize))
}

/// PyTorch's `pooling_output_shape`: `None` when no window fits.
fn out_size(size: usize, k: usize, pad: usize, s: usize, d: usize, ceil: bool) -> Option<usize> {
    // Checked: a huge dilation must not wrap `d * (k - 1)` around to a window that fits.
    let padded = i64::try_from(size.checked_add(pad.checked_mul(2)?)?).ok()?;
    let span = i64::try_from(d.checked_mul(k - 1)?).ok()?;
    let num = padded - span - 1 + if ceil { s as i64 - 1 } else { 0 };
    if num < 0 {
        return None;
    }
    let mut out = num as usize / s + 1;
    // In ceil mode the last window must start inside the input or its left padding.
    if ceil && (out - 1) * s >= size + pad {
        out -= 1;
    }
    Some(out)
}

impl Pool2dParams {
    /// Validate as PyTorch does: positive kernel, stride and dilation, padding at most half
    /// the kernel, and at least one output element.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        op: &'static str,
        input: [usize; 4],
        kernel: [i64; 2],
        stride: [i64; 2],
        padding: [i64; 2],
        dilation: [i64; 2],
        ceil_mode: bool,
    ) -> Result<Self, String> {
        let kernel = positive(op, "kernel_size", kernel)?;
        let stride = positive(op, "stride", stride)?;
        let dilation = positive(op, "dilation", dilation)?;
        if padding[0] < 0 || padding[1] < 0 {
            return Err(format!(
                "{op}: padding must be non-negative, got ({}, {})",
                padding[0], padding[1]
            ));
        }
        let padding = (padding[0] as usize, padding[1] as usize);
        if padding.0 > kernel.0 / 2 || padding.1 > kernel.1 / 2 {
            return Err(format!(
                "{op}: padding {} must be at most half the kernel size {}",
                pair(padding),
                pair(kernel)
            ));
        }
        if input[2].saturating_mul(input[3]) > i32::MAX as usize {
            return Err(format!(
                "{op}: input {} has planes of more than 2^31 elements, beyond int32 indices",
                shape_str(&input)
            ));
        }
        let p = Self {
            op,
            batch: input[0],
            channels: input[1],
            in_h: input[2],
            in_w: input[3],
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode,
        };
        let oh = out_size(p.in_h, kernel.0, padding.0, stride.0, dilation.0, ceil_mode);
        let ow = out_size(p.in_w, kernel.1, padding.1, stride.1, dilation.1, ceil_mode);
        match (oh, ow) {
            (Some(h), Some(w)) if h > 0 && w > 0 => Ok(p),
            _ => Err(format!(
                "{op}: kernel {} with dilation {} does not fit in input {} with padding {}",
                pair(kernel),
                pair(dilation),
                shape_str(&input),
                pair(padding)
            )),
        }
    }

    /// `(H_out, W_out)`.
    pub fn out_dims(&self) -> (usize, usize) {
        let (k, s, pd, d, c) = (
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
        );
        (
            out_size(self.in_h, k.0, pd.0, s.0, d.0, c).unwrap_or(0),
            out_size(self.in_w, k.1, pd.1, s.1, d.1, c).unwrap_or(0),
        )
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.in_h, self.in_w]
    }

    pub fn output_shape(&self) -> [usize; 4] {
        let (oh, ow) = self.out_dims();
        [self.batch, self.channels, oh, ow]
    }

    fn planes(&self) -> usize {
        self.batch * self.channels
    }

    fn check_len(&self, name: &str, shape: &[usize], len: usize) -> Result<(), String> {
        let want: usize = shape.iter().product();
        if len != want {
            return Err(format!(
                "{}: {name} has {len} elements but shape {} needs {want}",
                self.op,
                shape_str(shape)
            ));
        }
        Ok(())
    }

    /// The valid taps of the window starting at `start` (may be negative) along an axis:
    /// first input index, count, and step (the dilation).
    #[inline(always)]
    fn taps(start: isize, k: usize, d: usize, size: usize) -> (usize, usize) {
        // Skip taps in the leading padding, then stop at the end of the input.
        let mut first = start;
        let mut skipped = 0;
        if first < 0 {
            skipped = ((-first) as usize).div_ceil(d);
            first += (skipped * d) as isize;
        }
        if skipped >= k || first as usize >= size {
            return (0, 0);
        }
        let first = first as usize;
        let count = (k - skipped).min((size - 1 - first) / d + 1);
        (first, count)
    }

    /// The valid taps of output row `r`: first input row and count (step: the dilation).
    #[inline(always)]
    fn row_taps(&self, r: usize) -> (usize, usize) {
        let start = (r * self.stride.0) as isize - self.padding.0 as isize;
        Self::taps(start, self.kernel.0, self.dilation.0, self.in_h)
    }

    /// The valid taps of every output column: first input column and count.
    fn col_windows(&self) -> Vec<(usize, usize)> {
        let (_, ow) = self.out_dims();
        (0..ow)
            .map(|c| {
                let start = (c * self.stride.1) as isize - self.padding.1 as isize;
                Self::taps(start, self.kernel.1, self.dilation.1, self.in_w)
            })
            .collect()
    }

    /// One [`ColTap`] per kernel column.
    fn col_taps(&self) -> Vec<ColTap> {
        let (_, ow) = self.out_dims();
        let (sw, dw, pw) = (self.stride.1, self.dilation.1, self.padding.1);
        (0..self.kernel.1)
            .map(|b| {
                let offset = b * dw; // iw = c * sw + offset - pw
                let lo = if offset >= pw {
                    0
                } else {
                    (pw - offset).div_ceil(sw)
                };
                let limit = self.in_w + pw;
                let hi = if offset >= limit {
                    0
                } else {
                    (limit - offset).div_ceil(sw)
                };
                let (lo, hi) = (lo.min(ow), hi.min(ow));
                let hi = hi.max(lo);
                let first_iw = if hi > lo { lo * sw + offset - pw } else { 0 };
                ColTap { lo, hi, first_iw }
            })
            .collect()
    }

    /// PyTorch's `pool_size` along one axis: the window of output `i` clipped to the end
    /// of the padded input (not to its start).
    fn padded_extent(&self, i: usize, s: usize, pad: usize, k: usize, size: usize) -> usize {
        let start = (i * s) as isize - pad as isize;
        let end = (start + k as isize).min((size + pad) as isize);
        (end - start) as usize
    }

    /// 2x2 windows with stride 2 and no padding or dilation, all inside the input (not so in
    /// ceil mode on odd sizes): windows that tile the input without overlap, the common case
    /// with compact pick codes (an odd last row or column belongs to no window).
    pub fn is_2x2_tiling(&self) -> bool {
        let (oh, ow) = self.out_dims();
        self.kernel == (2, 2)
            && self.stride == (2, 2)
            && self.padding == (0, 0)
            && self.dilation == (1, 1)
            && 2 * oh <= self.in_h
            && 2 * ow <= self.in_w
    }

    fn require_2x2_tiling(&self) -> Result<(), String> {
        if self.is_2x2_tiling() {
            return Ok(());
        }
        Err(format!(
            "{}: 2x2 pick codes need kernel 2, stride 2, no padding or dilation and windows \
             inside the input, got kernel {}, stride {}, padding {}, dilation {} on input {}",
            self.op,
            pair(self.kernel),
            pair(self.stride),
            pair(self.padding),
            pair(self.dilation),
            shape_str(&self.input_shape())
        ))
    }

    /// Planes per parallel task.
    fn planes_per_task(&self) -> usize {
        let (oh, ow) = self.out_dims();
        let work = (self.in_h * self.in_w).max(oh * ow * self.kernel.0 * self.kernel.1);
        (GRAIN / work.max(1)).max(1)
    }
}

/// For one kernel column: the output columns `lo..hi` whose tap lies inside the input, and
/// the input column read by `lo`; column `lo + j` reads `first_iw + j * stride`. Sweeping a
/// kernel tap across a whole output row this way turns the window loops into vector loops.
#[derive(Clone, Copy, Debug)]
struct ColTap {
    lo: usize,
    hi: usize,
    first_iw: usize,
}

/// Max or min.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extremum {
    Max,
    Min,
}

/// Adaptive pooling of `planes` planes of `in_h x in_w` down to `out_h x out_w`: output
/// cell `i` pools input `floor(i*I/O) .. ceil((i+1)*I/O)` along each axis (see
/// [`adaptive_range`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptivePool2dParams {
    /// The operation's name for error messages.
    pub op: &'static str,
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl AdaptivePool2dParams {
    pub fn new(op: &'static str, input: [usize; 4], output_size: [i64; 2]) -> Result<Self, String> {
        if output_size[0] <= 0 || output_size[1] <= 0 {
            return Err(format!(
                "{op}: output_size must be positive, got ({}, {})",
                output_size[0], output_size[1]
            ));
        }
        if input[2] == 0 || input[3] == 0 {
            return Err(format!(
                "{op}: input {} has an empty spatial size",
                shape_str(&input)
            ));
        }
        Ok(Self {
            op,
            batch: input[0],
            channels: input[1],
            in_h: input[2],
            in_w: input[3],
            out_h: output_size[0] as usize,
            out_w: output_size[1] as usize,
        })
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.in_h, self.in_w]
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.out_h, self.out_w]
    }

    /// Planes per parallel task: enough that a task touches about `GRAIN` elements.
    fn planes_per_task(&self) -> usize {
        (GRAIN / (self.in_h * self.in_w).max(self.out_h * self.out_w)).max(1)
    }

    fn check_len(&self, name: &str, shape: &[usize], len: usize) -> Result<(), String> {
        let want: usize = shape.iter().product();
        if len != want {
            return Err(format!(
                "{}: {name} has {len} elements but shape {} needs {want}",
                self.op,
                shape_str(shape)
            ));
        }
        Ok(())
    }
}

/// The input cells `floor(i * size / out) .. ceil((i + 1) * size / out)` that output cell `i`
/// of `out` pools along an axis of `size` (PyTorch's adaptive windows: they cover the axis,
/// overlap by at most one cell, and are never empty).
#[inline(always)]
fn adaptive_range(i: usize, out: usize, size: usize) -> (usize, usize) {
    (i * size / out, ((i + 1) * size).div_ceil(out))
}
