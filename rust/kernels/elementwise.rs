//! Elementwise activations, forward and backward.
//!
//! Forward writes `y = f(x)`; backward writes `dx = dy * f'(x)`, reading whichever of `x` or
//! `y` gives the derivative most cheaply and stably (sigmoid and tanh use `y`).

use super::real::Real;
use crate::threading;

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
}

impl Activation {
    /// Parse the name used by the Python layer.
    pub fn from_name(name: &str, param: f64) -> Result<Self, String> {
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
            other => return Err(format!("unknown activation {other:?}")),
        })
    }
}

/// Sigmoid that neither overflows nor loses precision for large |x|.
#[inline(always)]
fn sigmoid<T: Real>(x: T) -> T {
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
        }
    };
}

/// `out[i] = f(x[i])`.
pub fn forward<T: Real>(act: Activation, x: &[T], out: &mut [T]) -> Result<(), String> {
    check_lengths("activation forward", x.len(), &[("out", out.len())])?;
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

    const ALL: [Activation; 9] = [
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
    ];

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
                assert!(
                    (numeric - dx[i]).abs() < 1e-6,
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
        assert!(xs
            .iter()
            .zip(&y)
            .all(|(x, y)| *y == forward_one(Activation::Tanh, *x)));
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let mut y = [0.0f32; 2];
        assert!(forward(Activation::Relu, &[1.0f32; 3], &mut y).is_err());
    }
}
