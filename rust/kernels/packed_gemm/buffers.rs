//! Per-thread packing buffers that live as long as their thread.
//!
//! A fresh page costs ~2 us to fault in on these machines, more than a small matmul takes, so
//! each thread keeps its packing space between calls instead of allocating per call. The
//! space is bounded by the block sizes (a few MiB per thread), whatever the matrix sizes.

use std::cell::RefCell;

/// One cache line; a `Vec` of these is a 64-byte-aligned byte buffer.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u8; 64]);

/// A growable 64-byte-aligned buffer, reused for any element type.
#[derive(Default)]
pub struct AlignedBuf {
    lines: Vec<Line>,
}

impl AlignedBuf {
    /// A 64-byte-aligned pointer to at least `len` elements of `T`, valid until the next call
    /// on this buffer. The contents are unspecified (zeros or earlier data): write first.
    pub fn get<T: Copy>(&mut self, len: usize) -> *mut T {
        let lines = (len * std::mem::size_of::<T>()).div_ceil(64);
        if self.lines.len() < lines {
            // Grow once to the new high-water mark; the old contents need not survive.
            self.lines = vec![Line([0; 64]); lines];
        }
        self.lines.as_mut_ptr().cast()
    }
}

/// The packed-A and packed-B space of one thread.
#[derive(Default)]
pub struct Scratch {
    pub a: AlignedBuf,
    pub b: AlignedBuf,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// The B blocks a calling thread packs with its helpers (see `parallel.rs`), apart from
    /// `SCRATCH` because the caller also packs its own A blocks while one is in use.
    static SHARED_B: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
}

/// Run `f` with this thread's scratch space (or a temporary one if it is already in use,
/// which a kernel never does, so this cannot fail).
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Run `f` with this thread's buffer for B blocks shared with other threads (or a temporary
/// one if it is already in use, which a kernel never does).
pub fn with_shared_b<R>(f: impl FnOnce(&mut AlignedBuf) -> R) -> R {
    SHARED_B.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => f(&mut buffer),
        Err(_) => f(&mut AlignedBuf::default()),
    })
}
