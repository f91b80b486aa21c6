"""The rows of issue 6's table that are not per-call times: `import dlcore` in a fresh
process, the wheel's size, and the memory of a training run (peak RSS, and growth over many
steps). Each measurement runs in fresh interpreters, so nothing this process has imported or
allocated changes it.

    python benches/train_extras.py                 # print them
    python benches/train_extras.py --steps 2000    # a longer run for the growth check

`benches/report.py` adds these lines to its report (see `extras()` in `cases/train.py`).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

BENCHES = Path(__file__).resolve().parent
ROOT = BENCHES.parent

IMPORT_SCRIPT = """
import time
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
import {module}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

# One training run in a fresh process: peak RSS over all of it, and the resident size after a
# warm-up and at the end, from /proc/self/status and /proc/self/statm. The peak is VmHWM, not
# ru_maxrss: a child inherits its parent's ru_maxrss across fork and exec, so a report run
# that has already grown to hundreds of MB would be measured instead of the child.
MEMORY_SCRIPT = """
import os, resource, sys
sys.path.insert(0, {benches!r})
import train_workloads as tw

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

step = getattr(tw, {side!r} + "_step")({kind!r}, {batch})
warmup = min(10, {steps})
for _ in range(warmup):
    step()
after_warmup = rss()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range({steps} - warmup):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / max({steps} - warmup, 1)
peak = peak_rss()
print(peak, after_warmup, rss(), faults)
"""


def _python(code: str, env: Optional[Dict[str, str]] = None) -> str:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "python"), environ.get("PYTHONPATH", "")) if p)
    environ.update(env or {})
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return done.stdout.strip()


def import_time(module: str = "dlcore", runs: int = 7) -> Dict[str, float]:
    """Seconds to import NumPy, then ``module``, in a fresh interpreter (the fastest of
    ``runs``; bytecode caches are warmed by a first run)."""
    _python(IMPORT_SCRIPT.format(module=module))
    times = [tuple(map(float, _python(IMPORT_SCRIPT.format(module=module)).split()))
             for _ in range(runs)]
    numpy_s = min(t[0] for t in times)
    extra_s = min(t[1] for t in times)
    return {"numpy_s": numpy_s, "extra_s": extra_s, "total_s": numpy_s + extra_s}


def training_memory(side: str, kind: str, batch: int, steps: int,
                    env: Optional[Dict[str, str]] = None) -> Dict[str, float]:
    """Peak RSS of ``steps`` training steps, the RSS after a warm-up and at the end (bytes),
    and the page faults per step after the warm-up."""
    code = MEMORY_SCRIPT.format(benches=str(BENCHES), side=side, kind=kind, batch=batch,
                                steps=steps)
    peak, warm, end, faults = map(float, _python(code, env).split())
    return {"peak_bytes": peak, "rss_after_warmup_bytes": warm, "rss_end_bytes": end,
            "growth_bytes": end - warm, "faults_per_step": faults}


def _has_extension(wheel: Path) -> bool:
    """Whether a wheel carries the compiled core (`pip install -e .` leaves an editable wheel
    of a few KB in target/wheels/ that only points at the checkout)."""
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        return any(name.startswith("dlcore/_core") for name in archive.namelist())


def newest_wheel() -> Optional[Path]:
    """The newest complete dlcore wheel in dist/, target/wheels/ or $DLCORE_WHEEL_DIR."""
    dirs = [ROOT / "dist", ROOT / "target" / "wheels"]
    if os.environ.get("DLCORE_WHEEL_DIR"):
        dirs.insert(0, Path(os.environ["DLCORE_WHEEL_DIR"]))
    wheels = [Path(p) for d in dirs for p in glob.glob(str(d / "dlcore_rs-*.whl"))]
    wheels = [w for w in wheels if _has_extension(w)]
    return max(wheels, key=lambda p: p.stat().st_mtime) if wheels else None


def lines(steps: int = 100, with_torch: bool = True) -> List[Dict[str, Any]]:
    """Every extra measurement as ``{"what": ..., "value": ..., ...}`` rows."""
    rows: List[Dict[str, Any]] = []
    imp = import_time()
    rows.append({"what": "import dlcore (fresh process, after numpy)",
                 "value": f"{imp['extra_s']:.3f} s (numpy itself {imp['numpy_s']:.3f} s, "
                          f"total {imp['total_s']:.3f} s)", **imp})
    wheel = newest_wheel()
    if wheel is None:
        rows.append({"what": "wheel size", "value": "no wheel found: run `maturin build "
                     "--release` (it writes target/wheels/)"})
    else:
        import zipfile

        size = wheel.stat().st_size
        with zipfile.ZipFile(wheel) as archive:
            installed = sum(info.file_size for info in archive.infolist())
        rows.append({"what": "wheel size",
                     "value": f"{size / 2**20:.2f} MiB, {installed / 2**20:.2f} MiB installed "
                              f"({wheel.name})",
                     "bytes": size, "installed_bytes": installed})
    sides = ["dlcore", "numpy"]
    if with_torch:
        try:
            _python("import torch")
            sides.append("torch")
        except RuntimeError:
            pass
    peaks = {}
    for side in sides:
        mem = training_memory(side, "lenet", 256, steps)
        peaks[side] = mem["peak_bytes"]
        rows.append({
            "what": f"{side}: {steps} LeNet steps at batch 256",
            "value": f"peak RSS {mem['peak_bytes'] / 2**20:.1f} MB, growth after warm-up "
                     f"{mem['growth_bytes'] / 2**20:+.1f} MB, "
                     f"{mem['faults_per_step']:.0f} page faults/step",
            **mem,
        })
    rows.append({"what": "peak RSS dlcore / numpy (goal <= 1.5)",
                 "value": f"{peaks['dlcore'] / peaks['numpy']:.2f}"})
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps per run")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    rows = lines(args.steps, not args.no_torch)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["what"]) for r in rows)
        for r in rows:
            print(f"{r['what'].ljust(width)}  {r['value']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
