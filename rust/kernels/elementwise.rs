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
            other => return Err(format!("unknown activation {other:?}")),
        })
    }
}

/// Sigmoid that neither overflows nor loses precision for large |x|.
#[inline(always)]
fn sigmoid<T: Real>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
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
                T::from_f64(alpha) * (x.exp() - T::ONE)
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
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

/// `out[i] = f(x[i])`.
pub fn forward<T: Real>(act: Activation, x: &[T], out: &mut [T]) -> Result<(), String> {
    check_lengths("activation forward", x.len(), &[("out", out.len())])?;
    threading::for_each_chunk(out, GRAIN, |off, chunk| {
        let src = &x[off..off + chunk.len()];
        for (o, &v) in chunk.iter_mut().zip(src) {
            *o = forward_one(act, v);
        }
    });
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
    threading::for_each_chunk(dx, GRAIN, |off, chunk| {
        let end = off + chunk.len();
        let (xs, ys, gs) = (&x[off..end], &y[off..end], &dy[off..end]);
        for i in 0..chunk.len() {
            chunk[i] = gs[i] * derivative(act, xs[i], ys[i]);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 7] = [
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: 0.1,
        },
        Activation::Elu { alpha: 1.5 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Step,
        Activation::Silu,
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
        assert!(xs.iter().zip(&y).all(|(x, y)| *y == x.tanh()));
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let mut y = [0.0f32; 2];
        assert!(forward(Activation::Relu, &[1.0f32; 3], &mut y).is_err());
    }
}
