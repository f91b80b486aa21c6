//! Runtime SIMD dispatch without `-C target-cpu=native` (a wheel must run on any x86-64).
//!
//! [`dispatch`] runs a closure inside a function compiled for the widest instruction set the
//! CPU has. LLVM inlines an `#[inline(always)]` closure (and the `#[inline(always)]` helpers
//! it calls) into that function and vectorises the loops there with AVX-512 or AVX2; the
//! same source is the portable fallback.

use super::real::Real;

/// The instruction sets a dispatched closure may be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Avx512,
    Avx2,
    Portable,
}

/// The widest level this CPU supports (detected once; the check is a cached load).
pub fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
        {
            return Level::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// Run `f` compiled for the best available instruction set. Mark the closure
/// `#[inline(always)]` and keep its hot helpers `#[inline(always)]` too.
#[inline(always)]
pub fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU was checked to support these features.
        Level::Avx512 => unsafe { run_avx512(f) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { run_avx2(f) },
        _ => f(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Independent partial sums: enough to fill a 512-bit register of f32 and to hide the
/// latency of the adds, in a form LLVM vectorises without reassociating a serial sum.
const LANES: usize = 16;

/// `sum_i a[i] * b[i]` over the common length.
#[inline(always)]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::ZERO; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = T::ZERO;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    acc.iter().fold(s, |t, &v| t + v)
}

/// `sum_i a[i]`.
#[inline(always)]
pub fn sum<T: Real>(a: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut ca = a.chunks_exact(LANES);
    for x in &mut ca {
        for i in 0..LANES {
            acc[i] += x[i];
        }
    }
    let s = ca.remainder().iter().fold(T::ZERO, |t, &v| t + v);
    acc.iter().fold(s, |t, &v| t + v)
}
