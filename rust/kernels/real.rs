//! The floating-point element types the kernels are generic over (f32 and f64).

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// What a kernel needs of an element type; implemented for `f32` and `f64` only.
pub trait Real:
    Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate for tiny `x` (libm's `log1p`).
    fn ln_1p(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    /// The error function, to within an ulp or so (libm's port of musl/fdlibm).
    fn erf(self) -> Self;
    /// `1 - erf(x)`, without the cancellation of computing it that way for large `x`.
    fn erfc(self) -> Self;
    /// `exp` in plain arithmetic (within 2 ulp), so loops over it vectorise; see `vmath`.
    fn exp_fast(self) -> Self;
    /// `tanh` that vectorises where an implementation exists (f32; f64 uses libm's).
    fn tanh_fast(self) -> Self;
    fn abs(self) -> Self;
    /// `self * a + b` rounded once: one instruction where FMA is compiled in, a libm call
    /// elsewhere (see `gemv::multiply_add`).
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn powi(self, n: i32) -> Self;
    fn is_nan(self) -> bool;
    /// `max` that propagates NaN from either side, as NumPy's `maximum` does.
    fn max_nan(self, other: Self) -> Self;
    /// `min` that propagates NaN from either side, as NumPy's `minimum` does.
    fn min_nan(self, other: Self) -> Self;
}

macro_rules! impl_real {
    ($t:ty, $erf:path, $erfc:path, $log1p:path, $exp_fast:path, $tanh_fast:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $log1p(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn erfc(self) -> Self {
                $erfc(self)
            }
            #[inline(always)]
            fn exp_fast(self) -> Self {
                $exp_fast(self)
            }
            #[inline(always)]
            fn tanh_fast(self) -> Self {
                $tanh_fast(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn max_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    <$t>::NAN
                } else if other > self {
                    other
                } else {
                    self
                }
            }
            #[inline(always)]
            fn min_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    <$t>::NAN
                } else if other < self {
                    other
                } else {
                    self
                }
            }
        }
    };
}

// The standard library has no stable erf; libm (rust-lang's port of musl's libm, already in
// the dependency tree through num-traits) gives one accurate to float round-off.
impl_real!(
    f32,
    libm::erff,
    libm::erfcf,
    libm::log1pf,
    super::vmath::exp_f32,
    super::vmath::tanh_f32
);
impl_real!(
    f64,
    libm::erf,
    libm::erfc,
    libm::log1p,
    super::vmath::exp_f64,
    f64::tanh
);
