//! The one place that owns dlcore's worker threads.
//!
//! Kernels run inside a rayon pool that we build ourselves (not rayon's global pool) so that
//! `dlcore.set_num_threads(n)` can resize it at any time. The initial size comes from
//! `DLCORE_NUM_THREADS`, else the number of CPUs the process may use. Work below a kernel's
//! grain size never enters the pool: waking threads costs more than small work saves, and on
//! a loaded two-core machine extra threads only fight each other.

use std::any::Any;
use std::panic::AssertUnwindSafe;
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

/// Run `f` inside the pool, so rayon calls within it use dlcore's threads: for code that
/// parallelises with rayon itself (the `gemm` crate's path). dlcore's own kernels claim
/// their work with [`run_workers`] instead, the caller taking part. (The caller
/// sleeps meanwhile: spinning instead, as [`run_workers`] does, made a third busy thread on
/// two cores, and element-wise kernels ran 1.03-1.47x slower.)
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pool = pool();
    let result = pool.install(f);
    linger(&pool);
    result
}

/// Apply `f(offset, chunk)` to consecutive chunks of `out`, in parallel when `out` is longer
/// than `grain` elements and the pool has more than one thread, else serially on this thread.
/// A chunk may start anywhere: for kernels that need whole rows, see [`for_each_rows`].
pub fn for_each_chunk<T: Send>(out: &mut [T], grain: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    for_each_aligned_chunk(out, grain, 1, f);
}

/// [`for_each_chunk`] over whole rows of `row_len` elements: every chunk starts at a row and
/// holds whole rows (`out.len()` must be a multiple of `row_len`).
pub fn for_each_rows<T: Send>(
    out: &mut [T],
    row_len: usize,
    grain: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    for_each_aligned_chunk(out, grain, row_len.max(1), f);
}

/// [`for_each_chunk`] with chunk lengths a multiple of `align`.
fn for_each_aligned_chunk<T: Send>(
    out: &mut [T],
    grain: usize,
    align: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let grain = grain.max(1);
    let threads = num_threads();
    if out.len() <= grain || threads == 1 {
        f(0, out);
        return;
    }
    let chunk = chunk_len(out.len(), grain, threads, align);
    for_each_piece(out.chunks_mut(chunk).collect(), |i, c| f(i * chunk, c));
}

/// The chunk length of [`for_each_aligned_chunk`]: a few chunks per thread balances load
/// without many tiny tasks, and rounding up to `align` keeps rows whole.
fn chunk_len(len: usize, grain: usize, threads: usize, align: usize) -> usize {
    len.div_ceil(threads * 4)
        .max(grain / 2)
        .max(1)
        .next_multiple_of(align)
}

/// Run `f(i, piece)` for each of `pieces` (disjoint parts of the data, the `i`-th), the
/// threads claiming them as in [`for_each_task`].
pub fn for_each_piece<P: Send>(pieces: Vec<P>, f: impl Fn(usize, P) + Sync) {
    let pieces: Vec<Mutex<Option<P>>> = pieces.into_iter().map(|p| Mutex::new(Some(p))).collect();
    for_each_task(pieces.len(), |i| {
        let taken = pieces[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(piece) = taken {
            f(i, piece);
        }
    });
}

/// `f(i, piece)` for each of `pieces`, computed as in [`for_each_piece`], in their order.
pub fn map_pieces<P: Send, R: Send>(pieces: Vec<P>, f: impl Fn(usize, P) -> R + Sync) -> Vec<R> {
    let results: Vec<Mutex<Option<R>>> = pieces.iter().map(|_| Mutex::new(None)).collect();
    for_each_piece(pieces, |i, piece| {
        let result = f(i, piece);
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    });
    results
        .into_iter()
        .map(|r| {
            let r = r.into_inner().unwrap_or_else(|e| e.into_inner());
            r.expect("for_each_piece runs every piece or re-raises the panic that stopped one")
        })
        .collect()
}

/// Run `work(i, part)` for each of `parts` (disjoint pieces of the data), the first on the
/// calling thread and each other on a pool worker, unless the caller gets to it first (see
/// [`run_workers`]); returns when all are done, leaving a worker lingering for the next call.
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

/// Run `work(w)` once for each `w` in `0..workers`: `work(0)` on the calling thread, the
/// others on whichever threads get to them first, pool workers or the caller. Returns when
/// all are done.
///
/// Each `w` is claimed, not assigned: a pool worker that has not started by the time the
/// caller is done with its own share (the OS gave its core to another process) finds all
/// claimed and returns at once, and the caller waits only for workers already inside
/// `work`. Waiting for the others to start, as a rayon scope does, cost a whole OS time
/// slice per call on a machine busy with other work: training steps ran 2-7x slower on two
/// threads than on one while two other processes kept both cores busy.
///
/// The caller, done, waits by spinning (see [`spin_until`]) instead of sleeping in a
/// latch: a thread put to sleep has to be woken by the last worker, which costs 5-30 us on
/// these VMs, as much as a 256^3 matmul's or a 1024x1024 matrix-vector product's whole
/// imbalance. Measured on a Zen 3, 2 threads, paired rounds: matrix-vector products
/// (1024^2) 1.04-1.14x faster, 128^3 1.04-1.15x. A panic in `work` reaches the caller once
/// no worker is inside `work` any more.
pub fn run_workers(pool: &ThreadPool, workers: usize, work: impl Fn(usize) + Sync) {
    if workers <= 1 {
        if workers == 1 {
            work(0);
        }
        return;
    }
    let erased: *const (dyn Fn(usize) + Sync + '_) = &work;
    // SAFETY: only the lifetime in the pointer's type is erased (the pool's jobs must be
    // 'static). A pool worker dereferences it only while counted in `Crew::inside` (see
    // `Crew::help`), and `close` below returns only once none is counted and none can be
    // any more; `work` lives until after that.
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(erased) };
    let crew = Arc::new(Crew {
        work: erased,
        workers,
        next: AtomicUsize::new(1),
        inside: AtomicUsize::new(0),
        panic: Mutex::new(None),
    });
    for _ in 1..workers {
        let crew = Arc::clone(&crew);
        pool.spawn(move || crew.help());
    }
    let own = std::panic::catch_unwind(AssertUnwindSafe(|| {
        work(0);
        // SAFETY: this is the caller, before `close`.
        unsafe { crew.claim_the_rest() };
    }));
    crew.close();
    let theirs = crew.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(payload) = own.err().or(theirs) {
        std::panic::resume_unwind(payload);
    }
}

/// What the threads of one [`run_workers`] call share.
struct Crew {
    /// The caller's work, valid while the caller is in `run_workers`: called only by the
    /// caller and by pool workers that the count in `inside` lets in.
    work: *const (dyn Fn(usize) + Sync),
    workers: usize,
    /// The next `w` to claim.
    next: AtomicUsize,
    /// How many pool workers are inside `work` now, plus [`CLOSED`] once the caller has
    /// stopped letting them in.
    inside: AtomicUsize,
    /// The first panic a pool worker caught, for the caller to raise.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `work` points to a `Sync` closure, called under the rules above; the other fields
// are thread-safe.
unsafe impl Send for Crew {}
unsafe impl Sync for Crew {}

/// The flag in [`Crew::inside`] that keeps late workers out.
const CLOSED: usize = 1 << (usize::BITS - 1);

impl Crew {
    /// Run every `w` still unclaimed.
    ///
    /// # Safety
    /// Only the caller of `run_workers`, before `close`, or a pool worker counted in
    /// `inside` may call this.
    unsafe fn claim_the_rest(&self) {
        while let Some(w) = claim(&self.next, self.workers) {
            // SAFETY: `work` is alive, as this function's contract says.
            unsafe { (*self.work)(w) };
        }
    }

    /// A pool worker's part: claim and run what is left unless the caller has closed.
    fn help(&self) {
        let entered = self
            .inside
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n & CLOSED == 0).then_some(n + 1)
            });
        if entered.is_err() {
            return;
        }
        if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: this worker is counted in `inside` until it leaves below.
            unsafe { self.claim_the_rest() }
        })) {
            // Claim everything so that the other threads stop early.
            self.next.store(self.workers, Ordering::Relaxed);
            let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert(payload);
        }
        self.inside.fetch_sub(1, Ordering::Release);
    }

    /// Wait until no pool worker is inside `work`, and keep any from entering after.
    fn close(&self) {
        while self
            .inside
            .compare_exchange(0, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            wait_until(|| self.inside.load(Ordering::Acquire) == 0);
        }
    }
}

/// How long [`spin_until`] spins before it naps instead: longer than the usual wait (a
/// thread finishing its share of a kernel, a few to a few hundred microseconds), short next
/// to the time slice the OS gives a thread that shares its core with another process.
const SPIN_FOR: Duration = Duration::from_micros(200);

/// One nap of a long [`spin_until`] wait (Linux rounds it up by its 50 us timer slack).
const NAP: Duration = Duration::from_micros(20);

/// Wait until `counter` reaches `total`: spin, yielding the core every so often, and nap
/// once the wait has lasted [`SPIN_FOR`] or a yield shows another thread held the core.
/// Spinning skips the 5-30 us it takes to wake a sleeping thread. But when more threads
/// want the cores than there are (another process is busy), the thread being waited for
/// may be waiting for a core itself, and a spinning waiter only keeps one from it.
pub fn spin_until(counter: &AtomicUsize, total: usize) {
    wait_until(|| counter.load(Ordering::Acquire) >= total);
}

/// Wait until `done()`, as [`spin_until`] does.
fn wait_until(done: impl Fn() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    let mut contested = false;
    while !done() {
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(256) {
            std::hint::spin_loop();
        } else if contested || start.elapsed() > SPIN_FOR {
            std::thread::sleep(NAP);
        } else {
            let look = Instant::now();
            std::thread::yield_now();
            contested = look.elapsed() > CONTESTED;
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

/// Held by tests that resize the shared pool, so that one asserting a size is not
/// interleaved with another changing it (cargo runs tests on parallel threads).
#[cfg(test)]
pub static RESIZING_TESTS: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    fn resizing() -> std::sync::MutexGuard<'static, ()> {
        RESIZING_TESTS.lock().unwrap_or_else(|e| e.into_inner())
    }

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
    fn row_chunks_hold_whole_rows() {
        // The softmax kernels split by rows: a chunk of 32765 / 2 elements of 5-wide rows
        // once cut a row in two (a panic or wrong rows).
        for align in [1, 5, 6, 7, 10, 1000] {
            for len in [align, 7 * align, 8000 * align, 12345 * align] {
                for threads in [2, 3, 8] {
                    let grain = (32768 / align).max(1) * align;
                    let chunk = chunk_len(len, grain, threads, align);
                    assert_eq!(chunk % align, 0, "{len} {grain} {threads} {align}");
                    assert!(chunk >= 1);
                }
            }
        }
        let mut v = vec![0usize; 12345 * 6];
        for_each_rows(&mut v, 6, 6 * 5461, |off, c| {
            assert_eq!((off % 6, c.len() % 6), (0, 0));
            c.iter_mut().enumerate().for_each(|(i, x)| *x += off + i);
        });
        assert!(v.iter().enumerate().all(|(i, &x)| x == i));
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
    fn run_workers_does_not_wait_for_workers_that_cannot_start() {
        // Both pool threads are busy until run_workers returns, as when another process
        // holds the cores: the caller must do every part itself instead of waiting.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (started, release) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        for _ in 0..2 {
            let (started, release) = (Arc::clone(&started), Arc::clone(&release));
            pool.spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_micros(100));
                }
            });
        }
        spin_until(&started, 2);
        let seen: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        run_workers(&pool, 3, |w| {
            seen[w].fetch_add(1, Ordering::Relaxed);
        });
        release.store(true, Ordering::SeqCst);
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        // The late jobs find nothing left and touch nothing.
        pool.install(|| ());
    }

    #[test]
    fn run_workers_from_many_threads_while_the_pool_is_resized() {
        // Callers on several OS threads share the pool (Python threads with the GIL
        // released), while another thread swaps the pool: every part still runs exactly
        // once, and late jobs never touch a finished call's work.
        let _resizing = resizing();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for n in (1..=4).cycle().take(200) {
                    set_num_threads(n).unwrap();
                    std::thread::sleep(Duration::from_micros(200));
                }
                stop.store(true, Ordering::SeqCst);
            });
            for caller in 0..4 {
                let stop = &stop;
                s.spawn(move || {
                    let mut rounds = 0usize;
                    while !stop.load(Ordering::SeqCst) || rounds < 50 {
                        let workers = 1 + (caller + rounds) % 4;
                        let seen: Vec<AtomicUsize> =
                            (0..workers).map(|_| AtomicUsize::new(0)).collect();
                        run_workers(&pool(), workers, |w| {
                            seen[w].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                        let hits = AtomicUsize::new(0);
                        for_each_task(17, |_| {
                            hits.fetch_add(1, Ordering::Relaxed);
                        });
                        assert_eq!(hits.load(Ordering::Relaxed), 17);
                        rounds += 1;
                    }
                });
            }
        });
        set_num_threads(default_num_threads()).unwrap();
    }

    #[test]
    fn resize_pool() {
        let _resizing = resizing();
        set_num_threads(3).unwrap();
        assert_eq!(num_threads(), 3);
        set_num_threads(0).unwrap();
        assert_eq!(num_threads(), 1);
        set_num_threads(usize::MAX).unwrap();
        assert_eq!(num_threads(), MAX_THREADS);
        set_num_threads(default_num_threads()).unwrap();
    }
}
