//! The one place that owns dlcore's worker threads.
//!
//! Kernels run inside a rayon pool that we build ourselves (not rayon's global pool) so that
//! `dlcore.set_num_threads(n)` can resize it at any time. The initial size comes from
//! `DLCORE_NUM_THREADS`, else the number of CPUs the process may use. Work below a kernel's
//! grain size never enters the pool: waking threads costs more than small work saves, and on
//! a loaded two-core machine extra threads only fight each other.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use rayon::ThreadPool;

static POOL: OnceLock<RwLock<Arc<ThreadPool>>> = OnceLock::new();
/// The pool's size, kept beside it so that kernels deciding whether to split small work can
/// ask without taking the lock (0 until the pool exists).
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

fn default_num_threads() -> usize {
    std::env::var("DLCORE_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build_pool(threads: usize) -> Arc<ThreadPool> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("dlcore-{i}"))
        .build()
        .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
        .expect("a one-thread pool can always be built");
    NUM_THREADS.store(pool.current_num_threads(), Ordering::Relaxed);
    Arc::new(pool)
}

fn slot() -> &'static RwLock<Arc<ThreadPool>> {
    POOL.get_or_init(|| RwLock::new(build_pool(default_num_threads())))
}

/// The pool kernels run in.
pub fn pool() -> Arc<ThreadPool> {
    slot().read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// How many threads the pool has.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => pool().current_num_threads(),
        n => n,
    }
}

/// Replace the pool with one of `threads` threads (at least 1). Kernels already running keep
/// the old pool until they finish.
pub fn set_num_threads(threads: usize) {
    let mut current = slot().write().unwrap_or_else(|e| e.into_inner());
    *current = build_pool(threads.max(1));
}

/// How long a worker stays awake after a parallel kernel, polling for the next one.
const LINGER: Duration = Duration::from_micros(300);

/// Whether a worker is lingering (see [`linger`]).
static LINGERING: AtomicBool = AtomicBool::new(false);

/// Keep one worker of `pool` awake for a moment, polling for work, so that a parallel kernel
/// called right after this one (the next layer, the next batch) finds it running instead of
/// waking it. On these VMs a sleeping worker can take 100 us or more to start, longer than a
/// 256^3 matmul's share of work on it, and then the calling thread does all of the work
/// alone. OpenBLAS and OpenMP runtimes spin for 0.1 s or more after every call for the same
/// reason; this spins for well under a millisecond, and only once per burst of calls.
pub fn linger(pool: &ThreadPool) {
    if LINGERING.swap(true, Ordering::AcqRel) {
        return;
    }
    pool.spawn(|| {
        let mut deadline = Instant::now() + LINGER;
        loop {
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => deadline = Instant::now() + LINGER,
                Some(rayon::Yield::Idle) => std::hint::spin_loop(),
                None => break,
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        LINGERING.store(false, Ordering::Release);
    });
}

/// Run `f` inside the pool, so rayon calls within it use dlcore's threads.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Apply `f(offset, chunk)` to consecutive chunks of `out`, in parallel when `out` is longer
/// than `grain` elements and the pool has more than one thread, else serially on this thread.
pub fn for_each_chunk<T: Send>(out: &mut [T], grain: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let grain = grain.max(1);
    let threads = num_threads();
    if out.len() <= grain || threads == 1 {
        f(0, out);
        return;
    }
    use rayon::prelude::*;
    // A few chunks per thread balances load without many tiny tasks.
    let chunk = out.len().div_ceil(threads * 4).max(grain / 2).max(1);
    install(|| {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i * chunk, c));
    });
}

/// Run `task(i)` for every `i` in `0..tasks`, in parallel when there is more than one task
/// and the pool has more than one thread, else serially on this thread.
pub fn for_each_task(tasks: usize, task: impl Fn(usize) + Sync + Send) {
    if tasks <= 1 || num_threads() == 1 {
        (0..tasks).for_each(task);
        return;
    }
    use rayon::prelude::*;
    install(|| (0..tasks).into_par_iter().for_each(task));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_once() {
        let mut v = vec![0u32; 1_000_003];
        for_each_chunk(&mut v, 1000, |off, c| {
            for (i, x) in c.iter_mut().enumerate() {
                *x += (off + i) as u32;
            }
        });
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
    }

    #[test]
    fn tasks_run_once_each() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let seen: Vec<AtomicU32> = (0..1000).map(|_| AtomicU32::new(0)).collect();
        for_each_task(seen.len(), |i| {
            seen[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn resize_pool() {
        set_num_threads(3);
        assert_eq!(num_threads(), 3);
        set_num_threads(0);
        assert_eq!(num_threads(), 1);
        set_num_threads(default_num_threads());
    }
}
