//! A process-wide cache of scratch buffers, so kernels do not fault fresh pages in every call.
//!
//! The first write to a fresh 4 KiB page costs about 1.9 us here, and glibc hands large freed
//! blocks back to the kernel: a temporary allocated anew per call is faulted in again per call
//! (PyTorch's conv forward loses 2-3x to this). A [`Workspace`] borrows a buffer from the cache
//! and gives it back on drop. The cache is a plain locked free list, not a thread-local, so a
//! worker that steals a second task while waiting inside a nested parallel call (rayon does
//! that) simply takes a second buffer instead of panicking on a double borrow.

use std::any::Any;
use std::sync::Mutex;

/// Buffers kept for reuse; beyond this, returned buffers are freed.
const MAX_KEPT: usize = 32;
/// Buffers larger than this (in bytes) are freed rather than kept.
const MAX_KEPT_BYTES: usize = 256 << 20;

static FREE: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());

/// A scratch buffer of `T` taken from the cache; its contents are unspecified until written.
pub struct Workspace<T: Copy + Default + Send + 'static> {
    buf: Vec<T>,
    len: usize,
}

impl<T: Copy + Default + Send + 'static> Workspace<T> {
    /// A buffer of at least `len` elements, reused from the cache when one is big enough.
    pub fn take(len: usize) -> Self {
        let mut buf = Self::take_buffer(len);
        if buf.len() < len {
            buf.resize(len, T::default());
        }
        Self { buf, len }
    }

    /// Like [`Workspace::take`], with every element set to zero (`T::default()`).
    pub fn take_zeroed(len: usize) -> Self {
        let mut w = Self::take(len);
        w.fill(T::default());
        w
    }

    fn take_buffer(len: usize) -> Vec<T> {
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        // The smallest cached buffer of this type that is big enough, else the biggest one
        // (growing it keeps the number of cached buffers small).
        let mut best: Option<(usize, usize)> = None;
        for (i, b) in free.iter().enumerate() {
            if let Some(v) = b.downcast_ref::<Vec<T>>() {
                let cap = v.len();
                let better = match best {
                    None => true,
                    Some((_, c)) if c >= len => cap >= len && cap < c,
                    Some((_, c)) => cap > c,
                };
                if better {
                    best = Some((i, cap));
                }
            }
        }
        match best {
            Some((i, _)) => *free
                .swap_remove(i)
                .downcast::<Vec<T>>()
                .expect("the element was checked to be a Vec<T>"),
            None => Vec::new(),
        }
    }
}

impl<T: Copy + Default + Send + 'static> std::ops::Deref for Workspace<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.buf[..self.len]
    }
}

impl<T: Copy + Default + Send + 'static> std::ops::DerefMut for Workspace<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf[..self.len]
    }
}

impl<T: Copy + Default + Send + 'static> Drop for Workspace<T> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.is_empty() || buf.len() * std::mem::size_of::<T>() > MAX_KEPT_BYTES {
            return;
        }
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < MAX_KEPT {
            free.push(Box::new(buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_sized() {
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
    }
}
