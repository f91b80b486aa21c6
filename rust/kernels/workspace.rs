//! A process-wide cache of buffers, so kernels do not fault fresh pages in every call.
//!
//! The first write to a fresh 4 KiB page costs about 1.9 us here, and glibc hands large freed
//! blocks back to the kernel: a buffer allocated anew per call is faulted in again per call
//! (PyTorch's conv forward loses 2-3x to this). A [`Workspace`] borrows a buffer from the cache
//! and gives it back on drop; the Python bindings also back output arrays with workspaces, so
//! a training loop's activations and gradients recycle the same pages step after step.
//!
//! The cache is a plain locked free list, not a thread-local, so a worker that steals a second
//! task while waiting inside a nested parallel call (rayon does that) simply takes a second
//! buffer instead of panicking on a double borrow. It keeps at most [`MAX_KEPT`] buffers and
//! [`MAX_KEPT_BYTES`] in total, evicting the oldest first.

use std::any::Any;
use std::sync::Mutex;

/// Buffers kept for reuse at most.
const MAX_KEPT: usize = 64;
/// Bytes kept for reuse at most, all buffers together.
const MAX_KEPT_BYTES: usize = 512 << 20;
/// A cached buffer serves a request if it is at most this much larger (in elements, beyond
/// twice the request), so a small request never pins a huge buffer.
const SLACK: usize = 1 << 14;

struct Cached {
    buf: Box<dyn Any + Send + Sync>,
    bytes: usize,
}

static FREE: Mutex<Vec<Cached>> = Mutex::new(Vec::new());

/// Bytes per cache line.
const LINE_BYTES: usize = 64;

/// The row stride, at least `cols`, that starts every row of a matrix on a cache line when
/// its first row does (see [`line_aligned`]). The GEMM kernel reads a B it does not pack one
/// row segment of 16 f32 (64 bytes) per step: on a line, that is one line instead of two, and
/// a panel of B stays in L1 (a 32x256 @ 256x357 product, one thread: 89 against 73 GFLOP/s).
pub fn line_stride<T>(cols: usize) -> usize {
    cols.next_multiple_of((LINE_BYTES / std::mem::size_of::<T>()).max(1))
}

/// Elements to take for `rows` rows of [`line_stride`]`(cols)` to fit after [`line_aligned`].
pub fn line_rows_len<T>(rows: usize, cols: usize) -> usize {
    rows * line_stride::<T>(cols) + LINE_BYTES / std::mem::size_of::<T>().max(1)
}

/// The part of `buf` that starts on a cache line.
pub fn line_aligned<T>(buf: &mut [T]) -> &mut [T] {
    let skip = buf.as_ptr().align_offset(LINE_BYTES).min(buf.len());
    &mut buf[skip..]
}

/// A buffer of `T` taken from the cache; its contents are unspecified until written.
pub struct Workspace<T: Copy + Default + Send + Sync + 'static> {
    buf: Vec<T>,
    len: usize,
}

impl<T: Copy + Default + Send + Sync + 'static> Workspace<T> {
    /// A buffer of `len` elements, reused from the cache when one of a fitting size is there.
    pub fn take(len: usize) -> Self {
        let buf = Self::cached(len).unwrap_or_else(|| vec![T::default(); len]);
        Self { buf, len }
    }

    /// Like [`Workspace::take`], but an allocation that fails (a size no memory can hold)
    /// is an `Err` naming the size instead of aborting the process, as `vec!` does.
    pub fn try_take(len: usize) -> Result<Self, String> {
        if let Some(buf) = Self::cached(len) {
            return Ok(Self { buf, len });
        }
        let mut buf = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| {
            format!(
                "cannot allocate {len} elements of {} bytes",
                std::mem::size_of::<T>()
            )
        })?;
        buf.resize(len, T::default());
        Ok(Self { buf, len })
    }

    /// Like [`Workspace::take`], with every element set to zero (`T::default()`).
    pub fn take_zeroed(len: usize) -> Self {
        let mut w = Self::take(len);
        w.fill(T::default());
        w
    }

    /// The smallest cached buffer of this type holding `len` to `2 * len + SLACK` elements.
    fn cached(len: usize) -> Option<Vec<T>> {
        if len == 0 {
            return Some(Vec::new());
        }
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        let mut best: Option<(usize, usize)> = None;
        for (i, c) in free.iter().enumerate() {
            if let Some(v) = c.buf.downcast_ref::<Vec<T>>() {
                let n = v.len();
                if n >= len && n <= 2 * len + SLACK && best.is_none_or(|(_, b)| n < b) {
                    best = Some((i, n));
                }
            }
        }
        let (i, _) = best?;
        free.remove(i).buf.downcast::<Vec<T>>().ok().map(|b| *b)
    }
}

impl<T: Copy + Default + Send + Sync + 'static> std::ops::Deref for Workspace<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.buf[..self.len]
    }
}

impl<T: Copy + Default + Send + Sync + 'static> std::ops::DerefMut for Workspace<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf[..self.len]
    }
}

impl<T: Copy + Default + Send + Sync + 'static> Drop for Workspace<T> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let bytes = buf.len() * std::mem::size_of::<T>();
        if buf.is_empty() || bytes > MAX_KEPT_BYTES / 4 {
            return;
        }
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        let mut total: usize = free.iter().map(|c| c.bytes).sum::<usize>() + bytes;
        while !free.is_empty() && (free.len() >= MAX_KEPT || total > MAX_KEPT_BYTES) {
            total -= free.remove(0).bytes;
        }
        free.push(Cached {
            buf: Box::new(buf),
            bytes,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_rows_start_on_cache_lines_and_fit_their_workspace() {
        fn check<T: Copy + Default + Send + Sync + 'static>() {
            for (rows, cols) in [(1, 1), (3, 14), (256, 196), (7, 64), (5, 65)] {
                let ld = line_stride::<T>(cols);
                assert!(ld >= cols && ld < cols + 64 / std::mem::size_of::<T>());
                assert_eq!((ld * std::mem::size_of::<T>()) % 64, 0);
                let mut buf = Workspace::<T>::take(line_rows_len::<T>(rows, cols));
                // Offsetting by one element must not matter either.
                for skip in [0, 1] {
                    let part = line_aligned(&mut buf[skip..]);
                    assert_eq!(part.as_ptr() as usize % 64, 0);
                    assert!(part.len() >= (rows - 1) * ld + cols, "{rows}x{cols}");
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    #[test]
    fn buffers_have_the_asked_size_and_are_distinct() {
        {
            let mut w = Workspace::<f32>::take(1000);
            w[999] = 1.0;
        }
        let w = Workspace::<f32>::take(500);
        assert_eq!(w.len(), 500);
        let z = Workspace::<f64>::take_zeroed(300);
        assert!(z.iter().all(|&v| v == 0.0));
        let two = (Workspace::<f32>::take(10), Workspace::<f32>::take(10));
        assert_ne!(two.0.as_ptr(), two.1.as_ptr());
        assert!(Workspace::<f32>::take(0).is_empty());
    }

    #[test]
    fn an_impossible_size_is_an_error_not_an_abort() {
        let err = Workspace::<f32>::try_take(1 << 60).err().unwrap();
        assert!(err.contains("cannot allocate"), "{err}");
        assert_eq!(Workspace::<f32>::try_take(5).unwrap().len(), 5);
    }

    #[test]
    fn a_returned_buffer_is_reused_for_a_similar_size() {
        // Sizes no other test uses, so a parallel test cannot take this buffer first.
        let ptr = Workspace::<f64>::take(777_777).as_ptr() as usize;
        let again = Workspace::<f64>::take(700_001);
        assert_eq!(again.as_ptr() as usize, ptr);
        // Far smaller requests get their own buffer rather than pinning this one.
        drop(again);
        let small = Workspace::<f64>::take(10);
        assert_ne!(small.as_ptr() as usize, ptr);
    }
}
