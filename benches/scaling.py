"""How dlcore's training steps and convolutions scale: with threads (1 vs all cores) and with
batch size (64, 256, 1024; step time should grow about linearly, without cliffs).

    python benches/scaling.py                 # both tables
    python benches/scaling.py --only threads  # or: --only batch

Times are the fastest of several batches of calls (the least disturbed by other processes
on a shared machine); thread counts are switched with `dlcore.set_num_threads` in the same
process, each side after a pause so the previous one's threads have gone to sleep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

BENCHES = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHES))
sys.path.insert(0, str(BENCHES.parent / "python"))

from conv_workloads import CONV_TABLE, conv_sides  # noqa: E402
from train_workloads import TRAIN_TABLE, dlcore_step  # noqa: E402

import dlcore  # noqa: E402


def fastest(fn: Callable[[], object], min_batch_s: float = 0.02, rounds: int = 9) -> float:
    """Seconds per call: the fastest of ``rounds`` batches of at least ``min_batch_s``."""
    for _ in range(2):
        fn()
    start = time.perf_counter()
    fn()
    per_call = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_batch_s / per_call))
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def workloads() -> Dict[str, Callable[[], Callable[[], object]]]:
    out: Dict[str, Callable[[], Callable[[], object]]] = {}
    for label, (kind, batch) in TRAIN_TABLE.items():
        out[f"train step {label}"] = lambda kind=kind, batch=batch: dlcore_step(kind, batch)
    for label, spec in CONV_TABLE.items():
        out[f"conv2d fwd+bwd {label}"] = lambda spec=spec: conv_sides(*spec)[0]
    return out


def thread_table(threads: int) -> List[str]:
    lines = [f"{'case':58s} {'1 thread ms':>12s} {f'{threads} threads ms':>13s} {'speedup':>8s}"]
    for name, make in workloads().items():
        fn = make()
        times = {}
        for n in (1, threads):
            dlcore.set_num_threads(n)
            time.sleep(0.2)
            times[n] = fastest(fn)
        lines.append(f"{name:58s} {times[1] * 1e3:12.3f} {times[threads] * 1e3:13.3f} "
                     f"{times[1] / times[threads]:8.2f}")
    dlcore.set_num_threads(threads)
    return lines


def batch_table(batches=(64, 256, 1024)) -> List[str]:
    head = " ".join(f"{f'batch {b} ms':>14s}" for b in batches)
    per = " ".join(f"{f'x{b // batches[0]} time':>9s}" for b in batches[1:])
    lines = [f"{'network':8s} {head}   {per}  (time relative to batch {batches[0]})"]
    for kind in ("mlp", "lenet"):
        times = []
        for b in batches:
            times.append(fastest(dlcore_step(kind, b)))
            time.sleep(0.2)
        rel = " ".join(f"{t / times[0]:9.2f}" for t in times[1:])
        lines.append(f"{kind:8s} " + " ".join(f"{t * 1e3:14.3f}" for t in times) + f"   {rel}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("threads", "batch"), help="print one table")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0))
                        if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    args = parser.parse_args(argv)
    print(f"dlcore simd {dlcore._core.simd_level()}, {args.threads} cores; "
          f"load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")
    if args.only in (None, "threads"):
        print("\n".join(thread_table(args.threads)))
    if args.only in (None, "batch"):
        dlcore.set_num_threads(args.threads)
        print("\n".join(batch_table()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
