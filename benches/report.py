"""dlcore's benchmark report: every registered case, dlcore against NumPy, in one process.

Usage (NumPy's OpenBLAS picks its own kernel only when these variables are unset):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/report.py
    ... python benches/report.py --filter matmul --threads 1

Cases come from `benches/cases/*.py` (see `benches/cases/__init__.py`). Each side of a case
is warmed up, then timed in batches (a batch lasts at least ~20 ms, so tiny operations are not
lost in timer noise). The sides take turns, one batch each per round, first one side leading
and then the other, so a slow minute on a shared machine slows both sides of a round alike.
The reported time is each side's median per-call time; the reported ratio is the median of
the rounds' own ratios, printed with their lowest and highest. A side that uses OpenBLAS or
PyTorch is followed by a pause, because their threads keep spinning for ~0.1 s after a call
and would steal the cores from whatever runs next.

The table goes to stdout; JSON and Markdown copies go to `benches/results/` (git-ignored).
A ratio numpy/dlcore above 1 means dlcore is faster.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

BENCHES = Path(__file__).resolve().parent
PAUSE_S = 0.25
# dlcore's one lingering worker polls for 300 us after a call (rust/threading.rs), then sleeps.
DLCORE_PAUSE_S = 0.01
BATCH_S = 0.02
WARMUP_S = 0.1
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def import_dlcore_core():
    """`dlcore._core`, from the installed package or else from this checkout's python/."""
    try:
        from dlcore import _core
    except ImportError:
        sys.path.insert(0, str(BENCHES.parent / "python"))
        try:
            from dlcore import _core
        except ImportError as err:
            sys.exit(
                f"report.py: cannot import dlcore._core ({err}). Build it first: "
                "`pip install -e .` (or `maturin develop --release`)."
            )
    return _core


def case_modules():
    """Every module in benches/cases/, in file-name order."""
    sys.path.insert(0, str(BENCHES))
    return [importlib.import_module(f"cases.{path.stem}")
            for path in sorted((BENCHES / "cases").glob("*.py")) if not path.name.startswith("_")]


def discover_cases():
    """Every Case from every module in benches/cases/, in file-name order."""
    return [case for module in case_modules() for case in module.cases()]


def discover_extras(selected):
    """The `extras()` functions of the modules that have a selected case. A module may define
    `extras() -> list of {"what": str, "value": str, ...}` for measurements that are not
    per-call times (memory, import time, package size)."""
    names = {c.name for c in selected}
    return [module.extras for module in case_modules()
            if hasattr(module, "extras") and any(c.name in names for c in module.cases())]


def batch_size(fn):
    """Calls per timed batch of `fn` (a batch lasts about BATCH_S), found while warming it up."""
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < WARMUP_S:
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    return max(1, math.ceil(BATCH_S / per_call))


def time_batch(fn, batch):
    """Seconds per call of `fn` over one batch of `batch` calls."""
    t0 = time.perf_counter()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - t0) / batch


def time_in_turns(plan, repeats):
    """Per-call seconds of each side in `plan` (a list of (name, fn)), `repeats` batches each.

    The sides take turns batch by batch, with the order reversed every other round, so that
    the host's slow and fast spells fall on both sides alike. Returns {name: [seconds, ...]},
    one sample per round in round order."""
    batches = {}
    for name, fn in plan:
        time.sleep(PAUSE_S)
        batches[name] = batch_size(fn)
    samples = {name: [] for name, _ in plan}
    previous = None
    for round_index in range(repeats):
        order = plan if round_index % 2 == 0 else plan[::-1]
        for name, fn in order:
            # The pause is for whatever ran last: OpenBLAS's and PyTorch's threads spin on.
            time.sleep(DLCORE_PAUSE_S if previous in (None, "dlcore") else PAUSE_S)
            samples[name].append(time_batch(fn, batches[name]))
            previous = name
    return samples


def blas_info():
    """NumPy's BLAS as threadpoolctl reports it (library, version, core type, threads)."""
    try:
        import numpy  # noqa: F401  (loads the BLAS so threadpoolctl can see it)
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"note": "threadpoolctl not installed"}
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
            return {key: pool.get(key) for key in keys}
    return {"note": "no BLAS found by threadpoolctl"}


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def format_ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:#.4g}"


def gflops(flops, seconds):
    return None if flops is None or seconds is None else flops / seconds / 1e9


def paired_ratio(other, dlcore):
    """Median, lowest and highest of the per-round ratios other/dlcore."""
    ratios = [o / d for o, d in zip(other, dlcore)]
    return statistics.median(ratios), min(ratios), max(ratios)


def run_case(case, repeats, use_torch):
    sides = case.prepare()
    row = {"case": case.name, "flops": case.flops}
    plan = [("dlcore", sides.dlcore), ("numpy", sides.numpy)]
    if use_torch and sides.torch is not None:
        plan.append(("torch", sides.torch))
    samples = time_in_turns(plan, repeats)
    for side, _ in plan:
        row[f"{side}_s"] = statistics.median(samples[side])
        row[f"{side}_samples_s"] = samples[side]
    for side, _ in plan[1:]:
        ratio, low, high = paired_ratio(samples[side], samples["dlcore"])
        row[f"{side}_over_dlcore"] = ratio
        row[f"{side}_over_dlcore_range"] = [low, high]
    return row


def table(rows, with_torch):
    header = ["case", "dlcore ms", "numpy ms", "numpy/dlcore", "rounds", "dlcore GFLOP/s",
              "numpy GFLOP/s"]
    if with_torch:
        header += ["torch ms", "torch/dlcore"]
    lines = [header]
    for r in rows:
        dl, npy = gflops(r["flops"], r["dlcore_s"]), gflops(r["flops"], r["numpy_s"])
        line = [
            r["case"],
            format_ms(r["dlcore_s"]),
            format_ms(r["numpy_s"]),
            f"{r['numpy_over_dlcore']:.2f}",
            "{:.2f}-{:.2f}".format(*r["numpy_over_dlcore_range"]),
            "-" if dl is None else f"{dl:.1f}",
            "-" if npy is None else f"{npy:.1f}",
        ]
        if with_torch:
            line += [format_ms(r.get("torch_s")), f"{r.get('torch_over_dlcore', math.nan):.2f}"]
        lines.append(line)
    return lines


def markdown(lines):
    out = ["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(lines[0])]
    out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
    return "\n".join(out)


def plain(lines):
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]

    def fmt(line):
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]
        return "  ".join(cells)

    return "\n".join([fmt(lines[0]), "-" * len(fmt(lines[0]))] + [fmt(x) for x in lines[1:]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filter", default="", help="run only cases whose name contains this")
    parser.add_argument("--threads", type=int, default=usable_cores(),
                        help="threads for dlcore, NumPy's BLAS and PyTorch (default: all cores)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="rounds: timed batches per side")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--no-extras", action="store_true",
                        help="skip the extra measurements (memory, import time, wheel size)")
    parser.add_argument("--out", type=Path, default=BENCHES / "results",
                        help="directory for the JSON and Markdown copies")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")

    warnings = [
        f"{var}={os.environ[var]} is set: NumPy's OpenBLAS may not use its best kernel here. "
        "Rerun as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/report.py`."
        for var in OPENBLAS_VARS
        if var in os.environ
    ]
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)

    core = import_dlcore_core()
    cases = [c for c in discover_cases() if args.filter in c.name]
    if args.list:
        print("\n".join(c.name for c in cases))
        return 0
    if not cases:
        sys.exit(f"report.py: no case matches --filter {args.filter!r}")

    core.set_num_threads(args.threads)
    from cases import optional_torch

    torch = None if args.no_torch else optional_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=args.threads, user_api="blas")
    except ImportError:
        limits = None
        warnings.append("threadpoolctl is not installed: NumPy's BLAS threads are not limited")
        print(f"WARNING: {warnings[-1]}", file=sys.stderr)

    import numpy as np

    machine = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "dlcore_simd": core.simd_level(),
        "dlcore_threads": core.get_num_threads(),
        "numpy": np.__version__,
        "numpy_blas": blas_info(),
        "torch": None if torch is None else torch.__version__,
        "python": platform.python_version(),
    }
    blas = machine["numpy_blas"]
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores | dlcore simd "
        f"{machine['dlcore_simd']}, {machine['dlcore_threads']} threads | NumPy "
        f"{machine['numpy']}, BLAS {blas.get('internal_api', '?')} {blas.get('version', '')} "
        f"core {blas.get('architecture', '?')}, {blas.get('num_threads', '?')} threads"
        + ("" if torch is None else f" | torch {torch.__version__}")
    )

    rows = []
    try:
        for case in cases:
            row = run_case(case, args.repeats, torch is not None)
            rows.append(row)
            dl, npy = format_ms(row["dlcore_s"]), format_ms(row["numpy_s"])
            ratio, (low, high) = row["numpy_over_dlcore"], row["numpy_over_dlcore_range"]
            print(f"  {case.name}: dlcore {dl} ms, numpy {npy} ms, ratio {ratio:.2f} "
                  f"(rounds {low:.2f}-{high:.2f})", file=sys.stderr)
    finally:
        if limits is not None:
            limits.restore_original_limits()

    lines = table(rows, torch is not None)
    print(plain(lines))
    ratios = [r["numpy_over_dlcore"] for r in rows]
    geomean = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    print(f"geometric mean numpy/dlcore over {len(rows)} cases: {geomean:.2f}")

    extras = []
    if not args.no_extras:
        for measure in discover_extras(cases):
            extras.extend(measure())
    if extras:
        width = max(len(e["what"]) for e in extras)
        print("\n".join(f"{e['what'].ljust(width)}  {e['value']}" for e in extras))

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {"time": stamp, "machine": machine, "threads": args.threads, "warnings": warnings,
              "geomean_numpy_over_dlcore": geomean, "rows": rows, "extras": extras}
    (args.out / f"report-{stamp}.json").write_text(json.dumps(report, indent=2))
    md = [f"# dlcore benchmark report {stamp}", "",
          f"Machine: `{json.dumps(machine)}`", "", f"Threads: {args.threads}", ""]
    md += [f"> WARNING: {w}" for w in warnings]
    md += ["", markdown(lines), "", f"Geometric mean numpy/dlcore: {geomean:.2f}", ""]
    md += [f"- {e['what']}: {e['value']}" for e in extras] + ([""] if extras else [])
    (args.out / f"report-{stamp}.md").write_text("\n".join(md))
    print(f"wrote {args.out / f'report-{stamp}.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
