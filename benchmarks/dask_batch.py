"""The Dask engine against the local engine, and a large Zarr z-stack on Dask (docs/dask.md).

Usage::

    python benchmarks/dask_batch.py                                   # 200 Lytro-size pairs, 200×4096² stack
    python benchmarks/dask_batch.py --pairs 40 --frames 24 --volume-size 1024 --chunk 256   # reduced

Batch part: ``--pairs`` generated 520×520 RGB JPEG pairs (a seeded texture, each source sharp on one
side of a curved boundary; written once, not timed, never stored) are fused with ``mfif batch`` three
times (``--repeat`` R: R interleaved rounds, the fastest of each kept), each a fresh process with an
empty OUT: the local engine, ``--engine dask --jobs 1`` and
``--engine dask --jobs 2``. Times are whole command wall times (process start, model load, cluster
start and shutdown included). Reported: the dask engine's overhead at one worker against the local
engine (goal ≤ 10 %), the 2-worker/1-worker throughput ratio, and the cluster start alone (a
``LocalCluster`` with the model plugin, no items). The outputs of the three runs are compared
byte for byte.

Volume part: a generated uint16 Zarr stack of ``--frames`` frames of ``--volume-size``² (chunked one
frame × 1024² on disk, generated band by band so the generator itself stays small) is fused with
``mfif volume`` (``--volume-method``, default ``laplacian-argmax``: learned methods fuse N frames by
pairwise votes, N(N−1)/2 pair fusions per chunk) into an OME-Zarr. Peak memory: the largest resident
set size seen for each process of the run (sampled every 0.1 s with psutil), reported for the worker
processes and for the driver.

Prints one JSON object (and a short table to stderr). Ratios are within one run on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def make_pair(seed: int, size: int = 520) -> tuple[np.ndarray, np.ndarray]:
    """A seeded RGB multi-focus pair, float32 [0, 1]: A sharp left of a curved boundary, B right of it."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    base = gaussian_filter(rng.random((size // 4, size // 4, 3)).astype(np.float32), (1, 1, 0))
    truth = np.kron(base, np.ones((4, 4, 1), np.float32))
    truth += 0.25 * rng.random((size, size, 3)).astype(np.float32)
    truth = (truth - truth.min()) / (truth.max() - truth.min())
    blur = gaussian_filter(truth, (3, 3, 0))
    yy, xx = np.mgrid[0:size, 0:size]
    m = (xx < size / 2 + size / 8 * np.sin(yy / size * 2 * np.pi + seed)).astype(np.float32)[..., None]
    return truth * m + blur * (1 - m), blur * m + truth * (1 - m)


def write_pairs(folder: Path, n: int) -> None:
    from mfif.io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        a, b = make_pair(k)
        write_image(folder / f"pair{k:04d}_A.jpg", a)
        write_image(folder / f"pair{k:04d}_B.jpg", b)


class PeakRSS:
    """Samples the resident set size of a process tree every ``interval`` s (psutil)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    role = "driver" if p.pid == self.root.pid else (
                        "worker" if any("spawn" in c or "multiprocessing" in c for c in p.cmdline()) else "other")
                except psutil.Error:
                    continue
                if rss > self.peak.get(p.pid, ("", 0))[1]:
                    self.peak[p.pid] = (role, rss)
            time.sleep(self.interval)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._th.join(2)
        out: dict[str, float] = {}
        for role, rss in self.peak.values():
            out[role] = max(out.get(role, 0.0), rss / 2**20)
        return out


def timed(cmd: list[str], *, monitor: bool = False) -> tuple[float, dict[str, float], str]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mon = PeakRSS(proc.pid) if monitor else None
    out, err = proc.communicate()
    dt = time.perf_counter() - t0
    peaks = mon.stop() if mon else {}
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{out}\n{err}")
    return dt, peaks, out.strip().splitlines()[-1] if out.strip() else ""


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def cluster_start(jobs: int, method: str | None) -> float:
    code = (
        "import time,sys;t=time.perf_counter()\n"
        "from mfif.distributed.cluster import open_client, make_model_plugin, cpu_count\n"
        "from mfif.fusion.methods import default_method\n"
        f"m={method!r} or default_method()\n"
        f"with open_client(jobs={jobs}) as c:\n"
        f"    c.register_plugin(make_model_plugin({{'method': m}}, torch_threads=max(1, cpu_count()//{jobs})))\n"
        "print(time.perf_counter()-t)\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def bench_batch(work: Path, args: argparse.Namespace) -> dict:
    src = work / "pairs"
    write_pairs(src, args.pairs)
    method = ["--method", args.method] if args.method else []
    base = [sys.executable, "-m", "mfif", "batch", str(src)]
    common = [*method, "--no-progress", "--quiet"]
    res: dict = {"pairs": args.pairs, "size": "520x520 RGB JPEG", "method": args.method or "default"}
    runs = {"local": [], "dask1": ["--engine", "dask", "--jobs", "1"], "dask2": ["--engine", "dask", "--jobs", "2"]}
    outs = {}
    for rep in range(args.repeat):  # interleaved repeats; the fastest of each is reported
        for name, extra in runs.items():
            out = work / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            dt, _, last = timed([*base, str(out), *common, *extra])
            res[f"{name}_s"] = round(min(dt, res.get(f"{name}_s", dt)), 2)
            res[f"{name}_report"] = last
            outs[name] = tree_bytes(out)
            print(f"  {name:6s} {dt:8.2f} s  {last}", file=sys.stderr)
    res["identical_outputs"] = outs["local"] == outs["dask1"] == outs["dask2"]
    res["dask1_overhead_vs_local"] = round(res["dask1_s"] / res["local_s"] - 1, 4)
    res["throughput_ratio_2_vs_1_workers"] = round(res["dask1_s"] / res["dask2_s"], 3)
    res["cluster_start_1_worker_s"] = round(cluster_start(1, args.method), 2)
    res["cluster_start_2_workers_s"] = round(cluster_start(2, args.method), 2)
    # the fixed cost of starting the embedded cluster, taken out (an estimate: separate processes)
    res["dask1_overhead_vs_local_excl_cluster_start"] = round(
        (res["dask1_s"] - res["cluster_start_1_worker_s"]) / res["local_s"] - 1, 4)
    return res


def write_stack(path: Path, frames: int, size: int, *, seed: int = 0) -> None:
    """A uint16 Zarr z-stack (frames × size × size, chunks 1 × 1024²): frame k sharp in the k-th band of a texture."""
    import zarr
    from scipy.ndimage import gaussian_filter

    c = min(1024, size)
    z = zarr.open_array(str(path), mode="w", shape=(frames, size, size), chunks=(1, c, c), dtype=np.uint16)
    rng = np.random.default_rng(seed)
    for y0 in range(0, size, c):  # one band of rows at a time
        y1 = min(size, y0 + c)
        truth = gaussian_filter(rng.random((y1 - y0, size)).astype(np.float32), 1.0)
        truth = (truth - truth.min()) / (truth.max() - truth.min())
        blur = gaussian_filter(truth, 3.0)
        xx = np.arange(size)[None, :] + 0 * np.arange(y0, y1)[:, None]
        band = np.minimum(frames - 1, (xx * frames) // size)
        for k in range(frames):
            m = band == k
            z[k, y0:y1] = np.round(np.where(m, truth, blur) * 65535).astype(np.uint16)


def bench_volume(work: Path, args: argparse.Namespace) -> dict:
    stack = work / "stack.zarr"
    t0 = time.perf_counter()
    write_stack(stack, args.frames, args.volume_size)
    gen = time.perf_counter() - t0
    res: dict = {"frames": args.frames, "size": args.volume_size, "dtype": "uint16", "method": args.volume_method,
                 "chunk": args.chunk, "jobs": args.volume_jobs, "generate_s": round(gen, 1),
                 "stack_mib": round(args.frames * args.volume_size**2 * 2 / 2**20, 1)}
    cmd = [sys.executable, "-m", "mfif", "volume", str(stack), "-o", str(work / "fused.zarr"), "--method",
           args.volume_method, "--chunk", str(args.chunk), "--jobs", str(args.volume_jobs)]
    dt, peaks, _ = timed(cmd, monitor=True)
    res["fuse_s"] = round(dt, 2)
    # --jobs 1 runs its worker as a thread of the mfif process: the driver's peak is the worker's
    res["peak_rss_worker_mib"] = round(peaks.get("worker", 0.0) if args.volume_jobs > 1 else peaks.get("driver", 0.0), 1)
    res["peak_rss_driver_mib"] = round(peaks.get("driver", 0.0), 1)
    res["chunk_input_mib"] = round(args.frames * args.chunk**2 * 2 / 2**20, 1)
    print(f"  volume {args.frames}x{args.volume_size}^2: {dt:.1f} s, peak worker RSS "
          f"{res['peak_rss_worker_mib']:.0f} MiB", file=sys.stderr)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200, help="generated 520x520 pairs (default 200)")
    ap.add_argument("--method", default=None, help="batch method (default: the default method)")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved repeats of the batch runs (fastest reported)")
    ap.add_argument("--frames", type=int, default=200, help="frames of the generated stack (default 200)")
    ap.add_argument("--volume-size", type=int, default=4096, help="stack frame size (default 4096)")
    ap.add_argument("--chunk", type=int, default=512, help="volume chunk size (default 512)")
    ap.add_argument("--volume-method", default="laplacian-argmax")
    ap.add_argument("--volume-jobs", type=int, default=2)
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--skip-volume", action="store_true")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed)")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mfif-dask-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    import platform

    result: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    try:
        if not args.skip_batch:
            result["batch"] = bench_batch(work, args)
        if not args.skip_volume:
            result["volume"] = bench_volume(work, args)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
