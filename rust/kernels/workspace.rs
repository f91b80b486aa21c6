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
