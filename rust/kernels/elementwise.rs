//! Elementwise activations, forward and backward.
//!
//! Forward writes `y = f(x)`; backward writes `dx = dy * f'(x)`, reading whichever of `x` or
//! `y` gives the derivative most cheaply and stably (sigmoid and tanh use `y`).

use super::real::Real;
#[cfg(target_arch = "x86_64")]
use super::vmath_avx512;
use crate::threading;
#[cfg(target_arch = "x86_64")]
use std::any::TypeId;

/// Elements per task below which a kernel runs on the calling thread.
const GRAIN: usize = 1 << 16;

/// The activations with a Rust kernel. Parameters are carried as f64 and cast per dtype.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    /// `x` where `x > 0`, else `negative_slope * x`.
    LeakyRelu {
        negative_slope: f64,
    },
    /// `x` where `x > 0`, else `alpha * (exp(x) - 1)`.
    Elu {
        alpha: f64,
    },
    Sigmoid,
    Tanh,
    /// Heaviside step: 1 where `x > 0`, else 0. Its derivative is 0 almost everywhere.
    Step,
    /// `x * sigmoid(x)`.
    Silu,
    /// Exact GELU, `x * Phi(x)` with `Phi` the standard normal CDF.
    Gelu,
    /// GELU's tanh approximation, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    GeluTanh,
    /// `x` clamped to `[min_val, max_val]` (ReLU6 is `(0, 6)`). Gradient 0 at the bounds, as
    /// in PyTorch.
    Hardtanh {
        min_val: f64,
        max_val: f64,
    },
    /// `relu6(x + 3) / 6`. Gradient 1/6 on the open interval (-3, 3), 0 elsewhere (also at
    /// -3 and 3, as in PyTorch).
    Hardsigmoid,
    /// `x * relu6(x + 3) / 6`. Gradient `x/3 + 1/2` on the closed interval [-3, 3] (so -1/2
    /// at -3 and 3/2 at 3, PyTorch's choice), 0 below and 1 above.
    Hardswish,
    /// `SELU_SCALE * x` where `x > 0`, else `SELU_SCALE * SELU_ALPHA * (exp(x) - 1)`.
    Selu,
    /// `x` where `x > 0`, else `alpha * (exp(x / alpha) - 1)`.
    Celu {
        alpha: f64,
    },
    /// `x * tanh(softplus(x))`.
    Mish,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`.
    LogSigmoid,
    /// `x - tanh(x)`.
    Tanhshrink,
    /// `x - lambd` above `lambd`, `x + lambd` below `-lambd`, else 0. Gradient 0 at +-lambd.
    Softshrink {
        lambd: f64,
    },
    /// `x` where `|x| > lambd`, else 0. Gradient 0 at +-lambd.
    Hardshrink {
        lambd: f64,
    },
    /// `x` where `x > threshold`, else `value`. Gradient 0 at `threshold`.
    Threshold {
        threshold: f64,
        value: f64,
    },
}

/// SELU's constants (Klambauer et al., 2017), to the digits PyTorch uses.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

impl Activation {
    /// Parse the name used by the Python layer. `param` and `param2` are the activation's
    /// parameters in PyTorch's order (`hardtanh`: min_val, max_val; `threshold`: threshold,
    /// value); the rest take at most `param`.
    pub fn from_name(name: &str, param: f64, param2: f64) -> Result<Self, String> {
        Ok(match name {
            "relu" => Self::Relu,
            "leaky_relu" => Self::LeakyRelu {
                negative_slope: param,
            },
            "elu" => Self::Elu { alpha: param },
            "sigmoid" => Self::Sigmoid,
            "tanh" => Self::Tanh,
            "step" => Self::Step,
            "silu" => Self::Silu,
            "gelu" => Self::Gelu,
            "gelu_tanh" => Self::GeluTanh,
            "hardtanh" if param > param2 => {
                return Err(format!(
                    "hardtanh: min_val ({param}) must not be greater than max_val ({param2})"
                ))
            }
            "hardtanh" => Self::Hardtanh {
                min_val: param,
                max_val: param2,
            },
            "hardsigmoid" => Self::Hardsigmoid,
            "hardswish" => Self::Hardswish,
            "selu" => Self::Selu,
            // alpha = 0 would divide by zero; PyTorch refuses it too.
            "celu" if param == 0.0 => return Err("celu: alpha must not be 0".to_string()),
            "celu" => Self::Celu { alpha: param },
            "mish" => Self::Mish,
            "softsign" => Self::Softsign,
            "logsigmoid" => Self::LogSigmoid,
            "tanhshrink" => Self::Tanhshrink,
            "softshrink" | "hardshrink" if param.is_nan() || param < 0.0 => {
                return Err(format!("{name}: lambd must be >= 0, got {param}"))
            }
            "softshrink" => Self::Softshrink { lambd: param },
            "hardshrink" => Self::Hardshrink { lambd: param },
            "threshold" => Self::Threshold {
                threshold: param,
                value: param2,
            },
            other => return Err(format!("unknown activation {other:?}")),
        })
    }
}

/// Sigmoid that neither overflows nor loses precision for large |x|.
#[inline(always)]
pub(crate) fn sigmoid<T: Real>(x: T) -> T {
    // e = exp(-|x|) is in (0, 1]: it cannot overflow, and both branches share it, so the
    // loop is branch-free and vectorises.
    let e = (-x.abs()).exp_fast();
    let numerator = if x >= T::ZERO { T::ONE } else { e };
    numerator / (T::ONE + e)
}

/// `e^x - 1` for `x <= 0` without the cancellation of `exp(x) - 1` near 0: with
/// `t = tanh(x/2)`, `e^x - 1 = 2t / (1 - t)`, and `1 - t` lies in [1, 2).
#[inline(always)]
fn exp_m1_nonpositive<T: Real>(x: T) -> T {
    let t = (x * T::from_f64(0.5)).tanh_fast();
    (t + t) / (T::ONE - t)
}

/// The standard normal CDF as `erfc(-x/sqrt 2)/2`: unlike `(1 + erf(x/sqrt 2))/2` it keeps
/// full relative precision in the far left tail instead of cancelling to 0.
#[inline(always)]
fn normal_cdf<T: Real>(x: T) -> T {
    T::from_f64(0.5) * (-x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erfc()
}

/// `2 * sqrt(2/pi) * (x + 0.044715 x^3)`: `0.5 (1 + tanh(u/2)) = sigmoid(u)`, so the tanh
/// GELU is `x * sigmoid(u)`, which cannot cancel to 0 for negative `x` the way `1 + tanh` does.
#[inline(always)]
fn gelu_tanh_arg<T: Real>(x: T) -> T {
    let k = T::from_f64(2.0 * (2.0 / std::f64::consts::PI).sqrt());
    k * (x + T::from_f64(0.044715) * x * x * x)
}

/// `tanh(softplus(x))` as `num / (num + rest)`, returned as `(num, rest)`. With `e =
/// exp(-|x|)`, which cannot overflow: for `x < 0`, `e = e^x` and `tanh(log(1 + e)) = e(e + 2) /
/// (e(e + 2) + 2)`; for `x >= 0`, dividing through by `e^(2x)` gives `(1 + 2e) / (1 + 2e +
/// 2e^2)`. No term cancels, so it keeps full relative precision in both tails.
#[inline(always)]
fn tanh_softplus_parts<T: Real>(x: T) -> (T, T) {
    let e = (-x.abs()).exp_fast();
    let two = T::from_f64(2.0);
    if x < T::ZERO {
        (e * (e + two), two)
    } else {
        (T::ONE + two * e, two * e * e)
    }
}

#[inline(always)]
fn forward_one<T: Real>(act: Activation, x: T) -> T {
    match act {
        Activation::Relu => {
            // Written so that NaN propagates, as in NumPy's maximum(x, 0).
            if x < T::ZERO {
                T::ZERO
            } else {
                x
            }
        }
        Activation::LeakyRelu { negative_slope } => {
            if x < T::ZERO {
                x * T::from_f64(negative_slope)
            } else {
                x
            }
        }
        Activation::Elu { alpha } => {
            if x > T::ZERO {
                x
            } else {
                T::from_f64(alpha) * exp_m1_nonpositive(x)
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh_fast(),
        Activation::Step => {
            if x > T::ZERO {
                T::ONE
            } else if x.is_nan() {
                x
            } else {
                T::ZERO
            }
        }
        Activation::Silu => x * sigmoid(x),
        Activation::Gelu => x * normal_cdf(x),
        Activation::GeluTanh => x * sigmoid(gelu_tanh_arg(x)),
        Activation::Hardtanh { min_val, max_val } => {
            // NaN fails both comparisons and passes through.
            if x < T::from_f64(min_val) {
                T::from_f64(min_val)
            } else if x > T::from_f64(max_val) {
                T::from_f64(max_val)
            } else {
                x
            }
        }
        Activation::Hardsigmoid => {
            let three = T::from_f64(3.0);
            if x <= -three {
                T::ZERO
            } else if x >= three {
                T::ONE
            } else {
                (x + three) / T::from_f64(6.0)
            }
        }
        Activation::Hardswish => {
            // Branches rather than PyTorch's `x * min(max(x + 3, 0), 6) / 6`, which gives
            // NaN at -inf (-inf * 0) and may round `x * 6 / 6` away from `x`.
            let three = T::from_f64(3.0);
            if x <= -three {
                T::ZERO
            } else if x >= three {
                x
            } else {
                x * (x + three) / T::from_f64(6.0)
            }
        }
        Activation::Selu => {
            let scaled = if x > T::ZERO {
                x
            } else {
                T::from_f64(SELU_ALPHA) * exp_m1_nonpositive(x)
            };
            T::from_f64(SELU_SCALE) * scaled
        }
        Activation::Celu { alpha } => {
            if x > T::ZERO {
                x
            } else {
                let a = x / T::from_f64(alpha);
                // For alpha > 0 the exponent is <= 0; a negative alpha (allowed, as in
                // PyTorch) makes it >= 0, where plain exp(a) - 1 is the only safe form.
                let em1 = if alpha > 0.0 {
                    exp_m1_nonpositive(a)
                } else {
                    a.exp_fast() - T::ONE
                };
                T::from_f64(alpha) * em1
            }
        }
        Activation::Mish => {
            let (num, rest) = tanh_softplus_parts(x);
            let t = num / (num + rest);
            // t == 0 only where x is very negative: the product is 0 (x * t would be NaN
            // at -inf).
            if t == T::ZERO {
                T::ZERO
            } else {
                x * t
            }
        }
        Activation::Softsign => {
            let a = x.abs();
            // inf / inf would be NaN; the limit is +-1.
            if x == T::INFINITY {
                T::ONE
            } else if x == T::NEG_INFINITY {
                -T::ONE
            } else {
                x / (T::ONE + a)
            }
        }
        Activation::LogSigmoid => {
            // log(sigmoid(x)) = -log(1 + e^-x) = min(x, 0) - log1p(e^-|x|); the exponent is
            // never positive, and log1p keeps -e^-x for large x instead of rounding to 0.
            let e = (-x.abs()).exp_fast();
            let negative_part = if x > T::ZERO { T::ZERO } else { x };
            negative_part - e.ln_1p()
        }
        Activation::Tanhshrink => x - x.tanh_fast(),
        Activation::Softshrink { lambd } => {
            let l = T::from_f64(lambd);
            if x > l {
                x - l
            } else if x < -l {
                x + l
            } else if x.is_nan() {
                // PyTorch maps NaN to 0 here; NaN propagates in every other activation.
                x
            } else {
                T::ZERO
            }
        }
        Activation::Hardshrink { lambd } => {
            let l = T::from_f64(lambd);
            if x >= -l && x <= l {
                T::ZERO
            } else {
                x
            }
        }
        Activation::Threshold { threshold, value } => {
            if x <= T::from_f64(threshold) {
                T::from_f64(value)
            } else {
                x
            }
        }
    }
}

#[inline(always)]
fn derivative<T: Real>(act: Activation, x: T, y: T) -> T {
    match act {
        Activation::Relu => {
            if x > T::ZERO {
                T::ONE
            } else {
                T::ZERO
            }
        }
        Activation::LeakyRelu { negative_slope } => {
            if x > T::ZERO {
                T::ONE
            } else {
                T::from_f64(negative_slope)
            }
        }
        Activation::Elu { alpha } => {
            if x > T::ZERO {
                T::ONE
            } else {
                // d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha
                y + T::from_f64(alpha)
            }
        }
        Activation::Sigmoid => y * (T::ONE - y),
        Activation::Tanh => T::ONE - y * y,
        Activation::Step => T::ZERO,
        Activation::Silu => {
            let s = sigmoid(x);
            s * (T::ONE + x * (T::ONE - s))
        }
        Activation::Gelu => {
            // d/dx x Phi(x) = Phi(x) + x phi(x); phi underflows to 0 before x*x overflows
            // matters (x*x = inf gives exp(-inf) = 0, and x * 0 = 0 for finite x).
            let pdf = T::from_f64(1.0 / (2.0 * std::f64::consts::PI).sqrt())
                * (T::from_f64(-0.5) * x * x).exp_fast();
            normal_cdf(x) + x * pdf
        }
        Activation::GeluTanh => {
            let s = sigmoid(gelu_tanh_arg(x));
            let ds = s * (T::ONE - s);
            if ds == T::ZERO {
                // Saturated: the second term is 0, and computing it could give 0 * inf.
                return s;
            }
            let k = T::from_f64(2.0 * (2.0 / std::f64::consts::PI).sqrt());
            let du = k * (T::ONE + T::from_f64(3.0 * 0.044715) * x * x);
            s + x * ds * du
        }
        Activation::Hardtanh { min_val, max_val } => {
            if x <= T::from_f64(min_val) || x >= T::from_f64(max_val) {
                T::ZERO
            } else {
                T::ONE
            }
        }
        Activation::Hardsigmoid => {
            let three = T::from_f64(3.0);
            if x > -three && x < three {
                T::from_f64(1.0 / 6.0)
            } else {
                T::ZERO
            }
        }
        Activation::Hardswish => {
            let three = T::from_f64(3.0);
            if x < -three {
                T::ZERO
            } else if x <= three {
                x / three + T::from_f64(0.5)
            } else {
                T::ONE
            }
        }
        Activation::Selu => {
            // From x, not from y + scale*alpha, which would cancel for very negative x.
            if x > T::ZERO {
                T::from_f64(SELU_SCALE)
            } else {
                T::from_f64(SELU_SCALE * SELU_ALPHA) * x.exp_fast()
            }
        }
        Activation::Celu { alpha } => {
            if x > T::ZERO {
                T::ONE
            } else {
                (x / T::from_f64(alpha)).exp_fast()
            }
        }
        Activation::Mish => {
            // d/dx x t(x) = t + x (1 - t^2) sigmoid(x). With t = num / d, d = num + rest:
            // 1 - t = rest / d and 1 + t = (2 num + rest) / d, so 1 - t^2 keeps its relative
            // precision as t -> 1.
            let (num, rest) = tanh_softplus_parts(x);
            let d = num + rest;
            let t = num / d;
            let ds = sigmoid(x) * (rest / d) * ((num + num + rest) / d);
            if ds == T::ZERO {
                // Saturated (x = +-inf among others): x * 0 could be NaN.
                return t;
            }
            t + x * ds
        }
        Activation::Softsign => {
            let d = T::ONE + x.abs();
            T::ONE / (d * d)
        }
        Activation::LogSigmoid => sigmoid(-x),
        Activation::Tanhshrink => {
            let t = x.tanh_fast();
            t * t
        }
        Activation::Softshrink { lambd } | Activation::Hardshrink { lambd } => {
            let l = T::from_f64(lambd);
            if x >= -l && x <= l {
                T::ZERO
            } else {
                T::ONE
            }
        }
        Activation::Threshold { threshold, .. } => {
            if x <= T::from_f64(threshold) {
                T::ZERO
            } else {
                T::ONE
            }
        }
    }
}

fn check_lengths(op: &str, want: usize, pairs: &[(&str, usize)]) -> Result<(), String> {
    for (name, len) in pairs {
        if *len != want {
            return Err(format!("{op}: {name} has {len} elements but x has {want}"));
        }
    }
    Ok(())
}

/// Calls `$run!(activation)` once per variant with the variant written out literally, so that
/// in the closure `$run!` builds, the `match` in `forward_one`/`derivative` is on a constant
/// and folds away: each activation gets its own loop, which LLVM can vectorise. (Capturing an
/// `Activation` value instead leaves a per-element `match` on memory the compiler cannot see
/// through, ten times slower.)
macro_rules! specialise {
    ($act:expr, $run:ident) => {
        match $act {
            Activation::Relu => $run!(Activation::Relu),
            Activation::LeakyRelu { negative_slope } => {
                $run!(Activation::LeakyRelu { negative_slope })
            }
            Activation::Elu { alpha } => $run!(Activation::Elu { alpha }),
            Activation::Sigmoid => $run!(Activation::Sigmoid),
            Activation::Tanh => $run!(Activation::Tanh),
            Activation::Step => $run!(Activation::Step),
            Activation::Silu => $run!(Activation::Silu),
            Activation::Gelu => $run!(Activation::Gelu),
            Activation::GeluTanh => $run!(Activation::GeluTanh),
            Activation::Hardtanh { min_val, max_val } => {
                $run!(Activation::Hardtanh { min_val, max_val })
            }
            Activation::Hardsigmoid => $run!(Activation::Hardsigmoid),
            Activation::Hardswish => $run!(Activation::Hardswish),
            Activation::Selu => $run!(Activation::Selu),
            Activation::Celu { alpha } => $run!(Activation::Celu { alpha }),
            Activation::Mish => $run!(Activation::Mish),
            Activation::Softsign => $run!(Activation::Softsign),
            Activation::LogSigmoid => $run!(Activation::LogSigmoid),
            Activation::Tanhshrink => $run!(Activation::Tanhshrink),
            Activation::Softshrink { lambd } => $run!(Activation::Softshrink { lambd }),
            Activation::Hardshrink { lambd } => $run!(Activation::Hardshrink { lambd }),
            Activation::Threshold { threshold, value } => {
                $run!(Activation::Threshold { threshold, value })
            }
        }
    };
}

/// `out[i] = f(x[i])`.
pub fn forward<T: Real>(act: Activation, x: &[T], out: &mut [T]) -> Result<(), String> {
    check_lengths("activation forward", x.len(), &[("out", out.len())])?;
    if forward_avx512(act, x, out) {
        return Ok(());
    }
    macro_rules! run {
        ($a:expr) => {
            threading::for_each_chunk(out, GRAIN, move |off, chunk| {
                let src = &x[off..off + chunk.len()];
                vector::map(src, chunk, move |v| forward_one($a, v));
            })
        };
    }
    specialise!(act, run);
    Ok(())
}

/// f32 tanh, sigmoid, SiLU and GELU-tanh through `vmath_avx512` (two to three times faster
/// than the generic loop); `false`, with nothing written, for other activations, f64 and CPUs
/// without AVX-512.
#[cfg(target_arch = "x86_64")]
fn forward_avx512<T: Real>(act: Activation, x: &[T], out: &mut [T]) -> bool {
    use vmath_avx512::Kernel;
    let kernel = match act {
        Activation::Tanh => Kernel::Tanh,
        Activation::Sigmoid => Kernel::Sigmoid,
        Activation::Silu => Kernel::Silu,
        Activation::GeluTanh => Kernel::GeluTanh,
        _ => return false,
    };
    if TypeId::of::<T>() != TypeId::of::<f32>() || !vmath_avx512::available() {
        return false;
    }
    // SAFETY: `T` is `f32`, so these are the same slices with their own type.
    let (x, out) = unsafe {
        (
            std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), x.len()),
            std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), out.len()),
        )
    };
    threading::for_each_chunk(out, GRAIN, |off, chunk| {
        vmath_avx512::map(kernel, &x[off..off + chunk.len()], chunk);
    });
    true
}

#[cfg(not(target_arch = "x86_64"))]
fn forward_avx512<T: Real>(_act: Activation, _x: &[T], _out: &mut [T]) -> bool {
    false
}

/// `dx[i] = dy[i] * f'(x[i])`, where `y = f(x)` is the forward output.
pub fn backward<T: Real>(
    act: Activation,
    x: &[T],
    y: &[T],
    dy: &[T],
    dx: &mut [T],
) -> Result<(), String> {
    check_lengths(
        "activation backward",
        x.len(),
        &[("y", y.len()), ("grad", dy.len()), ("out", dx.len())],
    )?;
    macro_rules! run {
        ($a:expr) => {
            threading::for_each_chunk(dx, GRAIN, move |off, chunk| {
                let end = off + chunk.len();
                let (xs, ys, gs) = (&x[off..end], &y[off..end], &dy[off..end]);
                vector::map3(xs, ys, gs, chunk, move |xv, yv, g| {
                    g * derivative($a, xv, yv)
                });
            })
        };
    }
    specialise!(act, run);
    Ok(())
}

/// Elementwise loops compiled for the widest SIMD the CPU has, chosen at run time (wheels are
/// built for baseline x86-64, where LLVM may only use SSE2).
pub(crate) mod vector {
    #[inline(always)]
    fn map_body<T: Copy, F: Fn(T) -> T>(x: &[T], out: &mut [T], f: &F) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = f(v);
        }
    }

    #[inline(always)]
    fn map3_body<T: Copy, F: Fn(T, T, T) -> T>(a: &[T], b: &[T], c: &[T], out: &mut [T], f: &F) {
        let n = out.len().min(a.len()).min(b.len()).min(c.len());
        let (a, b, c, out) = (&a[..n], &b[..n], &c[..n], &mut out[..n]);
        for i in 0..n {
            out[i] = f(a[i], b[i], c[i]);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn map_avx512<T: Copy, F: Fn(T) -> T>(x: &[T], out: &mut [T], f: &F) {
        map_body(x, out, f)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn map_avx2<T: Copy, F: Fn(T) -> T>(x: &[T], out: &mut [T], f: &F) {
        map_body(x, out, f)
    }

    #[inline(always)]
    fn map2_body<T: Copy, F: Fn(T, T) -> T>(a: &[T], b: &[T], out: &mut [T], f: &F) {
        let n = out.len().min(a.len()).min(b.len());
        let (a, b, out) = (&a[..n], &b[..n], &mut out[..n]);
        for i in 0..n {
            out[i] = f(a[i], b[i]);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn map2_avx512<T: Copy, F: Fn(T, T) -> T>(a: &[T], b: &[T], out: &mut [T], f: &F) {
        map2_body(a, b, out, f)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn map2_avx2<T: Copy, F: Fn(T, T) -> T>(a: &[T], b: &[T], out: &mut [T], f: &F) {
        map2_body(a, b, out, f)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn map3_avx512<T: Copy, F: Fn(T, T, T) -> T>(
        a: &[T],
        b: &[T],
        c: &[T],
        out: &mut [T],
        f: &F,
    ) {
        map3_body(a, b, c, out, f)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn map3_avx2<T: Copy, F: Fn(T, T, T) -> T>(
        a: &[T],
        b: &[T],
        c: &[T],
        out: &mut [T],
        f: &F,
    ) {
        map3_body(a, b, c, out, f)
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Level {
        Baseline,
        #[cfg(target_arch = "x86_64")]
        Avx2,
        #[cfg(target_arch = "x86_64")]
        Avx512,
    }

    fn level() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq")
            {
                return Level::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    }

    /// `out[i] = f(x[i])`.
    pub fn map<T: Copy, F: Fn(T) -> T>(x: &[T], out: &mut [T], f: F) {
        match level() {
            // SAFETY: the CPU supports the features these functions are compiled for.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { map_avx512(x, out, &f) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { map_avx2(x, out, &f) },
            Level::Baseline => map_body(x, out, &f),
        }
    }

    /// `out[i] = f(a[i], b[i])`.
    pub fn map2<T: Copy, F: Fn(T, T) -> T>(a: &[T], b: &[T], out: &mut [T], f: F) {
        match level() {
            // SAFETY: the CPU supports the features these functions are compiled for.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { map2_avx512(a, b, out, &f) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { map2_avx2(a, b, out, &f) },
            Level::Baseline => map2_body(a, b, out, &f),
        }
    }

    /// `out[i] = f(a[i], b[i], c[i])`.
    pub fn map3<T: Copy, F: Fn(T, T, T) -> T>(a: &[T], b: &[T], c: &[T], out: &mut [T], f: F) {
        match level() {
            // SAFETY: the CPU supports the features these functions are compiled for.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { map3_avx512(a, b, c, out, &f) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { map3_avx2(a, b, c, out, &f) },
            Level::Baseline => map3_body(a, b, c, out, &f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 23] = [
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: 0.1,
        },
        Activation::Elu { alpha: 1.5 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Step,
        Activation::Silu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Hardtanh {
            min_val: -1.0,
            max_val: 1.0,
        },
        Activation::Hardtanh {
            min_val: 0.0,
            max_val: 6.0,
        },
        Activation::Hardsigmoid,
        Activation::Hardswish,
        Activation::Selu,
        Activation::Celu { alpha: 1.5 },
        Activation::Celu { alpha: -0.5 },
        Activation::Mish,
        Activation::Softsign,
        Activation::LogSigmoid,
        Activation::Tanhshrink,
        Activation::Softshrink { lambd: 0.5 },
        Activation::Hardshrink { lambd: 0.5 },
        Activation::Threshold {
            threshold: 0.3,
            value: 20.0,
        },
    ];

    fn forward_f64(act: Activation, x: f64) -> f64 {
        let mut y = [0.0f64];
        forward(act, &[x], &mut y).unwrap();
        y[0]
    }

    fn derivative_f64(act: Activation, x: f64) -> f64 {
        let y = forward_f64(act, x);
        let mut dx = [0.0f64];
        backward(act, &[x], &[y], &[1.0], &mut dx).unwrap();
        dx[0]
    }

    #[test]
    fn gradients_at_kinks_follow_pytorch() {
        let hardtanh = Activation::Hardtanh {
            min_val: -1.0,
            max_val: 2.0,
        };
        let softshrink = Activation::Softshrink { lambd: 0.5 };
        let hardshrink = Activation::Hardshrink { lambd: 0.5 };
        let threshold = Activation::Threshold {
            threshold: 0.3,
            value: 20.0,
        };
        let cases = [
            (Activation::Hardswish, -3.0, -0.5),
            (Activation::Hardswish, 3.0, 1.5),
            (Activation::Hardsigmoid, -3.0, 0.0),
            (Activation::Hardsigmoid, 3.0, 0.0),
            (hardtanh, -1.0, 0.0),
            (hardtanh, 2.0, 0.0),
            (softshrink, 0.5, 0.0),
            (softshrink, -0.5, 0.0),
            (hardshrink, 0.5, 0.0),
            (hardshrink, -0.5, 0.0),
            (threshold, 0.3, 0.0),
            (Activation::Selu, 0.0, SELU_SCALE * SELU_ALPHA),
            (Activation::Celu { alpha: 2.0 }, 0.0, 1.0),
        ];
        for (act, x, want) in cases {
            let got = derivative_f64(act, x);
            assert!(
                (got - want).abs() < 1e-15,
                "{act:?} at {x}: {got} want {want}"
            );
        }
    }

    #[test]
    fn mish_is_accurate_in_both_tails() {
        // x * tanh(log1p(exp(x))) with libm's log1p and tanh is accurate to a few ulp where
        // exp(x) does not overflow.
        for i in -800..=700 {
            let x = i as f64 * 0.05 + 0.003;
            let want = x * libm::tanh(libm::log1p(x.exp()));
            let got = forward_f64(Activation::Mish, x);
            assert!(
                ((got - want) / want).abs() < 1e-14,
                "mish({x}) = {got} want {want}"
            );
        }
        assert_eq!(forward_f64(Activation::Mish, 1e4), 1e4);
        assert_eq!(forward_f64(Activation::Mish, f64::INFINITY), f64::INFINITY);
        assert_eq!(forward_f64(Activation::Mish, f64::NEG_INFINITY), 0.0);
        assert_eq!(derivative_f64(Activation::Mish, f64::INFINITY), 1.0);
        assert_eq!(derivative_f64(Activation::Mish, f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn logsigmoid_keeps_relative_precision_for_large_x() {
        // log(sigmoid(x)) = -log1p(e^-x), which is -e^-x to double precision from x = 40 on:
        // a plain log(1 + e^-x) would round it to 0 there.
        for x in [5.0f64, 20.0, 40.0, 100.0, 700.0] {
            let want = if x >= 40.0 {
                -(-x).exp()
            } else {
                -libm::log1p((-x).exp())
            };
            let got = forward_f64(Activation::LogSigmoid, x);
            assert!(
                ((got - want) / want).abs() < 1e-14,
                "logsigmoid({x}) = {got}"
            );
        }
        assert_eq!(forward_f64(Activation::LogSigmoid, -1e4), -1e4);
        assert_eq!(
            forward_f64(Activation::LogSigmoid, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
        assert_eq!(forward_f64(Activation::LogSigmoid, f64::INFINITY), 0.0);
        let mut y = [0.0f32];
        forward(Activation::LogSigmoid, &[100.0f32], &mut y).unwrap();
        assert!(y[0] < 0.0 && y[0] > -1e-43, "{}", y[0]);
    }

    #[test]
    fn infinities_give_the_limits() {
        let cases = [
            (Activation::Hardswish, -1.0, 0.0),
            (Activation::Hardswish, 1.0, f64::INFINITY),
            (Activation::Hardsigmoid, -1.0, 0.0),
            (Activation::Hardsigmoid, 1.0, 1.0),
            (Activation::Softsign, -1.0, -1.0),
            (Activation::Softsign, 1.0, 1.0),
            (Activation::Selu, -1.0, -SELU_SCALE * SELU_ALPHA),
            (Activation::Celu { alpha: 2.0 }, -1.0, -2.0),
            (Activation::Tanhshrink, 1.0, f64::INFINITY),
        ];
        for (act, sign, want) in cases {
            let x = sign * f64::INFINITY;
            assert_eq!(forward_f64(act, x), want, "{act:?} at {x}");
            assert!(!derivative_f64(act, x).is_nan(), "{act:?}' at {x}");
        }
    }

    #[test]
    fn nan_propagates_through_every_forward() {
        for act in ALL {
            let mut y = [0.0f32];
            forward(act, &[f32::NAN], &mut y).unwrap();
            assert!(y[0].is_nan(), "{act:?}");
            assert!(forward_f64(act, f64::NAN).is_nan(), "{act:?}");
        }
    }

    #[test]
    fn from_name_refuses_bad_parameters() {
        assert!(Activation::from_name("hardtanh", 2.0, 1.0).is_err());
        assert!(Activation::from_name("celu", 0.0, 0.0).is_err());
        assert!(Activation::from_name("softshrink", -0.1, 0.0).is_err());
        assert!(Activation::from_name("hardshrink", f64::NAN, 0.0).is_err());
        assert_eq!(
            Activation::from_name("threshold", 0.1, 20.0),
            Ok(Activation::Threshold {
                threshold: 0.1,
                value: 20.0
            })
        );
    }

    #[test]
    fn backward_matches_finite_differences() {
        let xs: Vec<f64> = (-40..=40).map(|i| i as f64 * 0.137 + 0.01).collect();
        for act in ALL {
            let mut y = vec![0.0; xs.len()];
            forward(act, &xs, &mut y).unwrap();
            let ones = vec![1.0; xs.len()];
            let mut dx = vec![0.0; xs.len()];
            backward(act, &xs, &y, &ones, &mut dx).unwrap();
            for (i, &x) in xs.iter().enumerate() {
                let h = 1e-6;
                let numeric = (forward_one(act, x + h) - forward_one(act, x - h)) / (2.0 * h);
                // Relative beyond 1: CELU with a negative alpha grows like e^(-2x).
                assert!(
                    (numeric - dx[i]).abs() < 1e-6 * dx[i].abs().max(1.0),
                    "{act:?} at {x}: {numeric} vs {}",
                    dx[i]
                );
            }
        }
    }

    #[test]
    fn extremes_stay_finite() {
        let xs = [-1e4f32, -100.0, 100.0, 1e4];
        let mut y = [0.0f32; 4];
        forward(Activation::Sigmoid, &xs, &mut y).unwrap();
        assert!(y[0] == 0.0 && y[1] < 1e-40 && y[2] == 1.0 && y[3] == 1.0);
        forward(Activation::Elu { alpha: 1.0 }, &xs, &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn gelu_matches_known_values() {
        // x * Phi(x) at a few points, Phi from tables of the normal CDF (20 digits).
        let cases = [
            (1.0f64, 0.841_344_746_068_542_9),
            (-1.0, -0.158_655_253_931_457_05),
            (2.5, 2.5 * 0.993_790_334_674_223_8),
            (-3.0, -3.0 * 0.001_349_898_031_630_094_5),
            (-10.0, -10.0 * 7.619_853_024_160_527e-24),
        ];
        for (x, want) in cases {
            let mut y = [0.0f64];
            forward(Activation::Gelu, &[x], &mut y).unwrap();
            assert!(
                ((y[0] - want) / want).abs() < 1e-14,
                "gelu({x}) = {} want {want}",
                y[0]
            );
        }
    }

    #[test]
    fn gelu_tanh_is_close_to_exact() {
        for i in -60..=60 {
            let x = i as f64 * 0.1;
            let (mut a, mut b) = ([0.0f64], [0.0f64]);
            forward(Activation::Gelu, &[x], &mut a).unwrap();
            forward(Activation::GeluTanh, &[x], &mut b).unwrap();
            let tanh_form =
                0.5 * x * (1.0 + (0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x)).tanh());
            assert!((a[0] - b[0]).abs() < 1e-3, "x={x}");
            assert!((b[0] - tanh_form).abs() < 1e-15, "x={x}");
        }
    }

    #[test]
    fn extreme_inputs_give_no_nan_in_any_derivative() {
        let xs = [-1e30f32, -1e4, -30.0, 30.0, 1e4, 1e30];
        for act in ALL {
            let mut y = [0.0f32; 6];
            forward(act, &xs, &mut y).unwrap();
            let mut dx = [0.0f32; 6];
            backward(act, &xs, &y, &[1.0; 6], &mut dx).unwrap();
            assert!(
                y.iter().chain(&dx).all(|v| !v.is_nan()),
                "{act:?}: {y:?} {dx:?}"
            );
        }
    }

    #[test]
    fn nan_propagates_through_relu() {
        let xs = [f32::NAN, -1.0, 2.0];
        let mut y = [0.0f32; 3];
        forward(Activation::Relu, &xs, &mut y).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[0.0, 2.0]);
    }

    #[test]
    fn parallel_path_matches_serial() {
        let xs: Vec<f32> = (0..300_001)
            .map(|i| ((i % 1000) as f32 - 500.0) / 100.0)
            .collect();
        let mut y = vec![0.0f32; xs.len()];
        forward(Activation::Tanh, &xs, &mut y).unwrap();
        // Serially, in runs shorter than a task (the f32 tanh may not be `forward_one`).
        for (x, y) in xs.chunks(1000).zip(y.chunks(1000)) {
            let mut serial = vec![0.0f32; x.len()];
            forward(Activation::Tanh, x, &mut serial).unwrap();
            assert_eq!(y, serial);
        }
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let mut y = [0.0f32; 2];
        assert!(forward(Activation::Relu, &[1.0f32; 3], &mut y).is_err());
    }
}
