//! 2-D convolution (cross-correlation, as in every DL framework) on NCHW arrays: forward and
//! the gradients with respect to input, weight and bias, with stride, per-side zero padding,
//! dilation and groups. Non-zero padding modes materialise the padded input with [`pad`].
//!
//! Shapes: input `(N, C_in, H, W)`, weight `(C_out, C_in / groups, KH, KW)`, bias `(C_out,)`,
//! output `(N, C_out, H_out, W_out)` with
//! `H_out = floor((H + pad_top + pad_bottom - dilation_h * (KH - 1) - 1) / stride_h) + 1`.
//!
//! Algorithms, chosen per shape by measurement: a 1x1 convolution with unit stride and no
//! padding is a plain GEMM per image ([`gemm_path`]); other unit-stride convolutions are
//! lowered by whole shifted rows of the padded input ([`shifted`]); strided ones by im2col
//! ([`gemm_path`]); both lower one L2-sized tile of output rows at a time, so the column
//! buffer never leaves cache. 3x3 unit-stride convolutions with many channels compute their
//! forward pass and gradients by Winograd's F(2x2, 3x3) ([`winograd`]), 2.25x fewer
//! multiplies. Depthwise convolutions run as direct loops: long per-plane axpys at unit
//! stride ([`depthwise`]), row-wise loops otherwise ([`direct`]).
//!
//! [`unfold`] exposes the im2col lowering on its own: PyTorch's `unfold` and `fold`.

mod depthwise;
mod direct;
mod gemm_path;
mod im2col;
pub mod pad;
mod shifted;
pub mod unfold;
mod winograd;

use super::real::Real;
use super::simd;
use crate::threading;

/// Apply `f(task_index, chunk)` to consecutive `chunk`-element pieces of `data`, in the
/// pool when there is more than one piece and more than one thread.
pub(crate) fn par_chunks<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let chunk = chunk.max(1);
    if data.len() <= chunk || threading::num_threads() == 1 {
        for (i, c) in data.chunks_mut(chunk).enumerate() {
            f(i, c);
        }
        return;
    }
    threading::for_each_piece(data.chunks_mut(chunk).collect(), f);
}

/// `grad_bias[co] = sum over images and pixels of grad_output[n, co]`.
fn bias_grad<T: Real>(p: &Conv2dParams, grad_out: &[T], grad_bias: &mut [T]) {
    let (oh, ow) = p.out_dims();
    let pix = oh * ow;
    let per_task = ((1 << 16) / (p.batch * pix).max(1)).max(1);
    par_chunks(grad_bias, per_task, |task, chunk| {
        simd::dispatch(
            #[inline(always)]
            || {
                for (i, db) in chunk.iter_mut().enumerate() {
                    let co = task * per_task + i;
                    *db = (0..p.batch).fold(T::ZERO, |s, n| {
                        s + simd::sum(&grad_out[(n * p.out_channels + co) * pix..][..pix])
                    });
                }
            },
        )
    });
}

/// Render a shape the way Python prints a tuple: `(2, 3, 32, 32)`.
pub fn shape_str(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    if dims.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

fn pair_str(p: (usize, usize)) -> String {
    format!("({}, {})", p.0, p.1)
}

fn positive_pair(op: &str, name: &str, v: [i64; 2]) -> Result<(usize, usize), String> {
    if v[0] <= 0 || v[1] <= 0 {
        return Err(format!(
            "{op}: {name} must be positive, got ({}, {})",
            v[0], v[1]
        ));
    }
    Ok((v[0] as usize, v[1] as usize))
}

/// The geometry of one conv2d call, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    pub batch: usize,
    pub in_channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_channels: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Zero padding per side: (top, bottom, left, right).
    pub padding: [usize; 4],
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Conv2dParams {
    /// Validate shapes and hyperparameters. Signed inputs so that a negative stride or padding
    /// from Python gets a message rather than a wrap-around.
    ///
    /// `padding` is (top, bottom, left, right).
    pub fn new(
        input: [usize; 4],
        weight: [usize; 4],
        stride: [i64; 2],
        padding: [i64; 4],
        dilation: [i64; 2],
        groups: i64,
    ) -> Result<Self, String> {
        const OP: &str = "conv2d";
        let (xs, ws) = (shape_str(&input), shape_str(&weight));
        let stride = positive_pair(OP, "stride", stride)?;
        let dilation = positive_pair(OP, "dilation", dilation)?;
        if padding.iter().any(|&p| p < 0) {
            return Err(format!(
                "{OP}: padding must be non-negative, got (top, bottom, left, right) = ({}, {}, {}, {})",
                padding[0], padding[1], padding[2], padding[3]
            ));
        }
        if groups <= 0 {
            return Err(format!("{OP}: groups must be positive, got {groups}"));
        }
        let groups = groups as usize;
        let [_, c, h, w] = input;
        let [c_out, c_per_group, kh, kw] = weight;
        if c == 0 {
            return Err(format!("{OP}: input {xs} has no channels"));
        }
        if h == 0 || w == 0 {
            return Err(format!("{OP}: input {xs} has an empty spatial size"));
        }
        if c_out == 0 || c_per_group == 0 {
            return Err(format!("{OP}: weight {ws} has no channels"));
        }
        if kh == 0 || kw == 0 {
            return Err(format!("{OP}: weight {ws} has an empty kernel"));
        }
        if c % groups != 0 {
            return Err(format!(
                "{OP}: input {xs} has {c} channels, which groups={groups} does not divide"
            ));
        }
        if c_out % groups != 0 {
            return Err(format!(
                "{OP}: weight {ws} has {c_out} output channels, which groups={groups} does not divide"
            ));
        }
        if c_per_group * groups != c {
            let expects = c_per_group * groups;
            return Err(if groups == 1 {
                format!("{OP}: input {xs} has {c} channels but weight {ws} expects {expects}")
            } else {
                format!(
                    "{OP}: input {xs} has {c} channels but weight {ws} with groups={groups} expects {expects}"
                )
            });
        }
        let padding = padding.map(|p| p as usize);
        // Checked: huge paddings or dilations from Python must not wrap around to a small,
        // wrong geometry.
        let add3 = |a: usize, b: usize, c: usize| a.checked_add(b)?.checked_add(c);
        let padded = match (
            add3(h, padding[0], padding[1]),
            add3(w, padding[2], padding[3]),
        ) {
            (Some(ph), Some(pw)) => (ph, pw),
            _ => {
                return Err(format!(
                    "{OP}: padding (top, bottom, left, right) = ({}, {}, {}, {}) is too large \
                     for input {xs}",
                    padding[0], padding[1], padding[2], padding[3]
                ))
            }
        };
        let extent = |d: usize, k: usize| d.checked_mul(k - 1)?.checked_add(1);
        let span = match (extent(dilation.0, kh), extent(dilation.1, kw)) {
            (Some(sh), Some(sw)) => (sh, sw),
            _ => {
                return Err(format!(
                    "{OP}: dilation {} is too large for kernel {}",
                    pair_str(dilation),
                    pair_str((kh, kw))
                ))
            }
        };
        if span.0 > padded.0 || span.1 > padded.1 {
            return Err(format!(
                "{OP}: kernel {} with dilation {} spans {} but the padded input {} is only {}",
                pair_str((kh, kw)),
                pair_str(dilation),
                pair_str(span),
                xs,
                pair_str(padded)
            ));
        }
        Ok(Self {
            batch: input[0],
            in_channels: c,
            in_h: h,
            in_w: w,
            out_channels: c_out,
            kernel: (kh, kw),
            stride,
            padding,
            dilation,
            groups,
        })
    }

    /// `(H_out, W_out)`.
    pub fn out_dims(&self) -> (usize, usize) {
        let span_h = self.dilation.0 * (self.kernel.0 - 1) + 1;
        let span_w = self.dilation.1 * (self.kernel.1 - 1) + 1;
        let ph = self.in_h + self.padding[0] + self.padding[1];
        let pw = self.in_w + self.padding[2] + self.padding[3];
        (
            (ph - span_h) / self.stride.0 + 1,
            (pw - span_w) / self.stride.1 + 1,
        )
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_channels, self.in_h, self.in_w]
    }

    pub fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.in_channels / self.groups,
            self.kernel.0,
            self.kernel.1,
        ]
    }

    pub fn output_shape(&self) -> [usize; 4] {
        let (oh, ow) = self.out_dims();
        [self.batch, self.out_channels, oh, ow]
    }

    /// Input channels per group.
    fn cin_g(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    fn cout_g(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of the lowered (im2col) matrix of one group: `C_in/groups * KH * KW`.
    fn col_rows(&self) -> usize {
        self.cin_g() * self.kernel.0 * self.kernel.1
    }

    fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.stride == (1, 1) && self.padding == [0; 4]
    }

    /// Multiply-adds of the forward pass.
    pub fn macs(&self) -> usize {
        let (oh, ow) = self.out_dims();
        self.batch * self.out_channels * oh * ow * self.col_rows()
    }

    fn check_len(&self, name: &str, shape: &[usize], len: usize) -> Result<(), String> {
        let want: usize = shape.iter().product();
        if len != want {
            return Err(format!(
                "conv2d: {name} has {len} elements but shape {} needs {want}",
                shape_str(shape)
            ));
        }
        Ok(())
    }
}

/// Which gradients to compute in [`conv2d_backward`]; each is overwritten when present.
pub struct Conv2dGrads<'a, T> {
    pub input: Option<&'a mut [T]>,
    pub weight: Option<&'a mut [T]>,
    pub bias: Option<&'a mut [T]>,
}

/// How a call is computed; chosen by [`Algorithm::choose`] from measurements on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    /// im2col tiles (or the input itself for 1x1 convolutions) times the weight.
    Gemm,
    /// Direct loops, for depthwise convolutions.
    Direct,
}

impl Algorithm {
    fn choose(p: &Conv2dParams) -> Self {
        // A depthwise convolution's per-group GEMM has one row and a K of KH*KW: lowering
        // costs more than it saves. Everything else, down to LeNet's single input channel,
        // is faster lowered (measured: 3-14x over the direct loops).
        if p.cout_g() == 1 && p.cin_g() == 1 {
            Algorithm::Direct
        } else {
            Algorithm::Gemm
        }
    }
}

/// `output = conv2d(input, weight) + bias`.
pub fn conv2d_forward<T: Real>(
    p: &Conv2dParams,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    output: &mut [T],
) -> Result<(), String> {
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("weight", &p.weight_shape(), weight.len())?;
    p.check_len("output", &p.output_shape(), output.len())?;
    if let Some(b) = bias {
        p.check_len("bias", &[p.out_channels], b.len())?;
    }
    if output.is_empty() {
        return Ok(());
    }
    match Algorithm::choose(p) {
        Algorithm::Gemm
            if winograd::applies(p)
                && winograd::all_finite(weight)
                && winograd::all_finite(input) =>
        {
            winograd::forward(p, input, weight, bias, output);
            Ok(())
        }
        Algorithm::Gemm if shifted::applies(p) => shifted::forward(p, input, weight, bias, output),
        Algorithm::Gemm => gemm_path::forward(p, input, weight, bias, output),
        Algorithm::Direct if depthwise::applies(p) => {
            depthwise::forward(p, input, weight, bias, output);
            Ok(())
        }
        Algorithm::Direct => {
            direct::forward(p, input, weight, bias, output);
            Ok(())
        }
    }
}

/// The gradients of `conv2d` given `grad_output` (dLoss/doutput); see [`Conv2dGrads`].
pub fn conv2d_backward<T: Real>(
    p: &Conv2dParams,
    input: &[T],
    weight: &[T],
    grad_output: &[T],
    mut grads: Conv2dGrads<T>,
) -> Result<(), String> {
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("weight", &p.weight_shape(), weight.len())?;
    p.check_len("grad_output", &p.output_shape(), grad_output.len())?;
    if let Some(g) = grads.input.as_deref() {
        p.check_len("grad_input", &p.input_shape(), g.len())?;
    }
    if let Some(g) = grads.weight.as_deref() {
        p.check_len("grad_weight", &p.weight_shape(), g.len())?;
    }
    if let Some(g) = grads.bias.as_deref() {
        p.check_len("grad_bias", &[p.out_channels], g.len())?;
    }
    if p.batch == 0 {
        for g in [grads.weight, grads.bias].into_iter().flatten() {
            g.fill(T::ZERO);
        }
        return Ok(());
    }
    if Algorithm::choose(p) == Algorithm::Gemm
        && winograd::applies(p)
        && winograd::all_finite(grad_output)
    {
        // The input and weight gradients by Winograd (each only if what it reads is
        // finite); the rest below.
        if grads.input.is_some() && winograd::all_finite(weight) {
            if let Some(grad_input) = grads.input.take() {
                winograd::input_grad(p, weight, grad_output, grad_input);
            }
        }
        if grads.weight.is_some() && winograd::all_finite(input) {
            if let Some(grad_weight) = grads.weight.take() {
                winograd::weight_grad(p, input, grad_output, grad_weight);
            }
        }
    }
    match Algorithm::choose(p) {
        Algorithm::Gemm if shifted::applies(p) => {
            shifted::backward(p, input, weight, grad_output, grads)
        }
        Algorithm::Gemm => gemm_path::backward(p, input, weight, grad_output, grads),
        Algorithm::Direct if depthwise::applies(p) => {
            depthwise::backward(p, input, weight, grad_output, grads);
            Ok(())
        }
        Algorithm::Direct => {
            direct::backward(p, input, weight, grad_output, grads);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
