//! The one place that owns dlcore's worker threads.
//!
//! Kernels run inside a rayon pool that we build ourselves (not rayon's global pool) so that
//! `dlcore.set_num_threads(n)` can resize it at any time. The initial size comes from
//! `DLCORE_NUM_THREADS`, else the number of CPUs the process may use. Work below a kernel's
//! grain size never enters the pool: waking threads costs more than small work saves, and on
//! a loaded two-core machine extra threads only fight each other.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use rayon::ThreadPool;

static POOL: OnceLock<RwLock<Arc<ThreadPool>>> = OnceLock::new();
/// The pool's size, kept beside it so that kernels deciding whether to split small work can
/// ask without taking the lock (0 until the pool exists).
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The most threads the pool may have: more than any CPU dlcore runs on offers, and few
/// enough that a slip such as `set_num_threads(10**6)` is refused instead of starting a
/// million threads.
pub const MAX_THREADS: usize = 1024;

fn default_num_threads() -> usize {
    std::env::var("DLCORE_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(MAX_THREADS)
}

fn try_build_pool(threads: usize) -> Result<ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("dlcore-{i}"))
        .build()
}

/// The first pool: if the OS refuses the threads asked for, one thread rather than none.
fn build_pool(threads: usize) -> Arc<ThreadPool> {
    let pool = try_build_pool(threads)
        .or_else(|_| try_build_pool(1))
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

/// Replace the pool with one of `threads` threads (clamped to `1..=MAX_THREADS`). Kernels
/// already running keep the old pool until they finish. If the OS refuses to start the
/// threads, the old pool stays and the error says why.
pub fn set_num_threads(threads: usize) -> Result<(), rayon::ThreadPoolBuildError> {
    let pool = try_build_pool(threads.clamp(1, MAX_THREADS))?;
    let mut current = slot().write().unwrap_or_else(|e| e.into_inner());
    NUM_THREADS.store(pool.current_num_threads(), Ordering::Relaxed);
    *current = Arc::new(pool);
    Ok(())
}

/// How long a worker stays awake after a parallel kernel, polling for the next one, unless
/// `DLCORE_LINGER_US` says otherwise (0 turns lingering off).
const DEFAULT_LINGER_US: u64 = 300;

/// A lingering worker's look for work that takes longer than this (it normally takes a
/// microsecond or two) shows the OS gave the core to another thread meanwhile.
const CONTESTED: Duration = Duration::from_micros(50);

/// A lingering worker yields its core to the OS on every this many looks for work.
const YIELD_EVERY: u32 = 8;

/// After a linger finds its core contested, no worker lingers for this long.
const BACK_OFF: Duration = Duration::from_secs(1);

/// Until when (microseconds since [`since_start`]'s origin) workers do not linger.
static BACK_OFF_UNTIL: AtomicU64 = AtomicU64::new(0);

/// Microseconds since the first call.
fn since_start() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Whether a worker is lingering (see [`linger`]).
static LINGERING: AtomicBool = AtomicBool::new(false);

fn linger_time() -> Duration {
    static LINGER: OnceLock<Duration> = OnceLock::new();
    *LINGER.get_or_init(|| parse_linger(std::env::var("DLCORE_LINGER_US").ok().as_deref()))
}

/// The linger time a `DLCORE_LINGER_US` setting asks for (the default if unset or invalid).
fn parse_linger(setting: Option<&str>) -> Duration {
    let us = setting
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_LINGER_US);
    Duration::from_micros(us)
}

/// Keep one worker of `pool` awake for a moment, polling for work, so that a parallel kernel
/// called right after this one (the next layer, the next batch) finds it running instead of
/// having to wake it. Waking a sleeping worker can cost more than a small kernel's share of
/// work: on these VMs back-to-back 256^3 matmuls ran at one thread's speed for hundreds of
/// calls before the second thread kept up, and `install` blocks its caller until a worker
/// starts. OpenBLAS and OpenMP runtimes spin for 0.1 s or more after every call for the same
/// reason. This polls for `DLCORE_LINGER_US` (300 us by default), once per burst of calls,
/// yielding the core every few looks; nothing ever waits for it. If a yield shows that
/// another thread wanted the core, it stops, and no worker lingers for the next second.
pub fn linger(pool: &ThreadPool) {
    let linger = linger_time();
    if linger.is_zero() || since_start() < BACK_OFF_UNTIL.load(Ordering::Relaxed) {
        return;
    }
    if LINGERING.swap(true, Ordering::AcqRel) {
        return;
    }
    pool.spawn(move || {
        let mut deadline = Instant::now() + linger;
        let mut idle_looks = 0u32;
        loop {
            let look = Instant::now();
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => deadline = Instant::now() + linger,
                Some(rayon::Yield::Idle) => {
                    idle_looks += 1;
                    if idle_looks.is_multiple_of(YIELD_EVERY) {
                        // Give way to any other thread that wants this core. A look and a
                        // yield that took this long mean the OS ran something else meanwhile:
                        // polling would only take time from that work and from ours.
                        std::thread::yield_now();
                        if look.elapsed() > CONTESTED {
                            let until = since_start() + BACK_OFF.as_micros() as u64;
                            BACK_OFF_UNTIL.store(until, Ordering::Relaxed);
                            break;
                        }
                    } else {
                        std::hint::spin_loop();
                    }
                }
                None => break,
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        LINGERING.store(false, Ordering::Release);
    });
}

/// Run `f` inside the pool, so rayon calls within it use dlcore's threads. (The caller
/// sleeps meanwhile: spinning instead, as [`run_workers`] does, made a third busy thread on
/// two cores, and element-wise kernels ran 1.03-1.47x slower.)
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pool = pool();
    let result = pool.install(f);
    linger(&pool);
    result
}

/// Adds one to its counter when dropped, also when unwinding from a panic: a spinning
/// waiter then stops, and rayon's scope re-raises the panic, instead of spinning forever.
struct CountOnDrop<'a>(&'a AtomicUsize);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
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
    // A few chunks per thread balances load without many tiny tasks.
    let chunk = out.len().div_ceil(threads * 4).max(grain / 2).max(1);
    let chunks: Vec<Mutex<Option<&mut [T]>>> =
        out.chunks_mut(chunk).map(|c| Mutex::new(Some(c))).collect();
    for_each_task(chunks.len(), |i| {
        let taken = chunks[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(c) = taken {
            f(i * chunk, c);
        }
    });
}

/// Run `work(i, part)` for each of `parts` (disjoint pieces of the data), the first on the
/// calling thread and the others on pool workers, so no part waits for the caller to hand it
/// over; returns when all are done, leaving a worker lingering for the next call.
pub fn each_part_in_place<P: Send>(parts: Vec<P>, work: impl Fn(usize, P) + Sync) {
    let pool = pool();
    let parts: Vec<Mutex<Option<P>>> = parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
    run_workers(&pool, parts.len(), |i| {
        let part = parts[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(part) = part {
            work(i, part);
        }
    });
    linger(&pool);
}

/// Run `work(w)` once for each worker `w` in `0..workers`: worker 0 on the calling thread,
/// the others as jobs for `pool`. Returns when all are done.
///
/// The caller, done with its own share, waits for the others by spinning (yielding the core
/// now and then) instead of sleeping in rayon's latch: a thread put to sleep there has to be
/// woken by the last worker, which costs 5-30 us on these VMs, as much as a 256^3 matmul's
/// or a 1024x1024 matrix-vector product's whole imbalance. Measured on a Zen 3, 2 threads,
/// paired rounds: matrix-vector products (1024^2) 1.04-1.14x faster, 128^3 1.04-1.15x. The wait is short because the workers share the work
/// evenly or claim it as they go. Called from a pool worker (nested parallelism), it waits as
/// rayon does.
pub fn run_workers(pool: &ThreadPool, workers: usize, work: impl Fn(usize) + Sync) {
    if workers <= 1 {
        if workers == 1 {
            work(0);
        }
        return;
    }
    let done = AtomicUsize::new(0);
    let (work, done) = (&work, &done);
    pool.in_place_scope(|scope| {
        for w in 1..workers {
            scope.spawn(move |_| {
                let _count = CountOnDrop(done);
                work(w);
            });
        }
        work(0);
        if rayon::current_thread_index().is_none() {
            spin_until(done, workers - 1);
        }
        // A pool worker instead waits in rayon's scope, which runs queued jobs meanwhile:
        // spinning there could wait for a job queued behind the spinner itself.
    });
}

/// Wait until `counter` reaches `total`: spin, yielding the core every so often so a worker
/// that was descheduled (or another process) can run.
pub fn spin_until(counter: &AtomicUsize, total: usize) {
    let mut spins = 0u32;
    while counter.load(Ordering::Acquire) < total {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(256) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Run `task(i)` for every `i` in `0..tasks`, in parallel when there is more than one task
/// and the pool has more than one thread, else serially on this thread. The calling thread
/// takes part (see [`claim_tasks`]).
pub fn for_each_task(tasks: usize, task: impl Fn(usize) + Sync + Send) {
    let threads = num_threads();
    if tasks <= 1 || threads == 1 {
        (0..tasks).for_each(task);
        return;
    }
    let pool = pool();
    claim_tasks(&pool, threads, tasks, task);
    linger(&pool);
}

/// Run `task(t)` for every `t` in `0..tasks` on up to `threads` threads of `pool`, the
/// calling thread included (see [`run_workers`]); each claims the next task from a counter
/// until none are left, so a thread that starts late or shares its core does fewer. Returns
/// when all are done.
pub fn claim_tasks(pool: &ThreadPool, threads: usize, tasks: usize, task: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(t) = claim(&next, tasks) {
            task(t);
        }
    };
    if tasks < 2 || threads < 2 {
        return work();
    }
    run_workers(pool, threads.min(tasks), |_| work());
}

/// Claim the next of `total` tasks from `counter`: its index, or None when all are claimed.
pub fn claim(counter: &AtomicUsize, total: usize) -> Option<usize> {
    let t = counter.fetch_add(1, Ordering::Relaxed);
    (t < total).then_some(t)
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
    fn every_part_runs_once_with_its_index() {
        let mut data = vec![0usize; 10];
        let parts: Vec<&mut [usize]> = data.chunks_mut(3).collect();
        each_part_in_place(parts, |i, part| part.iter_mut().for_each(|x| *x += i + 1));
        assert_eq!(data, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]);
    }

    #[test]
    fn linger_setting() {
        let default = Duration::from_micros(DEFAULT_LINGER_US);
        assert_eq!(parse_linger(None), default);
        assert_eq!(parse_linger(Some(" 50 ")), Duration::from_micros(50));
        assert_eq!(parse_linger(Some("0")), Duration::ZERO);
        assert_eq!(parse_linger(Some("-3")), default);
        assert_eq!(parse_linger(Some("soon")), default);
    }

    #[test]
    fn work_after_a_linger_still_runs_everywhere() {
        // A lingering worker takes the next job; jobs after it ends still run.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for round in 0..50 {
            linger(&pool);
            let seen: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
            pool.install(|| {
                use rayon::prelude::*;
                (0..64).into_par_iter().for_each(|i| {
                    seen[i].fetch_add(1, Ordering::Relaxed);
                })
            });
            assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
            if round % 10 == 9 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    #[test]
    fn run_workers_runs_each_worker_once_from_outside_and_inside_the_pool() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for workers in [0, 1, 2, 3, 5] {
            let seen: Vec<AtomicUsize> = (0..workers).map(|_| AtomicUsize::new(0)).collect();
            run_workers(&pool, workers, |w| {
                if w == 1 {
                    std::thread::sleep(Duration::from_millis(2)); // the caller spins meanwhile
                }
                seen[w].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                seen.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "{workers}"
            );
        }
        // Nested: every pool thread inside run_workers at once must not wait on itself.
        let total = AtomicUsize::new(0);
        pool.install(|| {
            rayon::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|_| {
                        run_workers(&pool, 2, |_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        })
                    });
                }
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 8);
        // A panicking worker ends the wait and the panic reaches the caller.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_workers(&pool, 2, |w| assert!(w != 1, "worker {w} failed"));
        }));
        assert!(caught.is_err());
    }

    #[test]
    fn resize_pool() {
        set_num_threads(3).unwrap();
        assert_eq!(num_threads(), 3);
        set_num_threads(0).unwrap();
        assert_eq!(num_threads(), 1);
        set_num_threads(usize::MAX).unwrap();
        assert_eq!(num_threads(), MAX_THREADS);
        set_num_threads(default_num_threads()).unwrap();
    }
}
