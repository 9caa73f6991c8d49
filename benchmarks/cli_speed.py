"""What a user waits for: ``mfif fuse`` end to end (process start-up included) beside the in-process time.

Usage:
    python benchmarks/cli_speed.py [--repeats 5] [--paper [--paper-repeats 3]] [--methods mfif-gan-lite,gff]

The pair is the built-in example of ``mfif demo`` (scikit-image's astronaut, 512×512 RGB, α-matte
model), written once as PNG files into a temporary folder. In the same run, interleaved, each repeat times

* ``python -c pass`` — the interpreter's own start-up (the floor of any command);
* ``mfif fuse A.png B.png -o F.png --method M`` — the command a user runs (start-up, imports, reading
  the weights, reading and writing the files, the network and the post-processing), one process each;
* in-process ``mfif.fuse([a, b], method=M, amp="auto")`` after one warm-up call — the fusion alone, as
  the CLI runs it (bf16 where the CPU computes it natively).

``--paper`` adds the paper-size ``mfif-gan`` in-process (its CPU time per pair; a few seconds to a minute).
``--torch-engine`` adds, for each learned method, the same two rows with ``MFIF_ENGINE=torch`` (the torch
engine instead of the numpy one that small networks get on a CPU; :func:`mfif.models.runtime.choose_engine`).
Prints one Markdown row per measurement with the median and the range, and the CPU model.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def _env(base: dict[str, str], engine: str | None) -> dict[str, str]:
    return dict(base, MFIF_ENGINE=engine) if engine else base


def _set_engine(engine: str | None) -> None:
    """The engine of the in-process calls (read by mfif.models.runtime.choose_engine on every call)."""
    import os

    if engine:
        os.environ["MFIF_ENGINE"] = engine
    else:
        os.environ.pop("MFIF_ENGINE", None)


def _row(name: str, times: list[float]) -> str:
    return f"| {name} | {statistics.median(times):.3f} | {min(times):.3f}–{max(times):.3f} | {len(times)} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--methods", default="mfif-gan-lite,gff", help="methods timed with the CLI and in-process")
    ap.add_argument("--paper", action="store_true", help="also time mfif-gan in-process (slow on a CPU)")
    ap.add_argument("--paper-repeats", type=int, default=3, help="runs of mfif-gan per precision")
    ap.add_argument("--torch-engine", action="store_true", help="also time learned methods with MFIF_ENGINE=torch")
    args = ap.parse_args(argv)

    import os

    import mfif
    from mfif.bench.runner import cpu_name
    from mfif.cli.demo import demo_pair
    from mfif.io import write_image

    a, b, _, _ = demo_pair()
    runs = [(m, None) for m in args.methods.split(",") if m]
    if args.torch_engine:
        runs += [(m, "torch") for m, _ in list(runs) if _learned(m)]
    base_env = {k: v for k, v in os.environ.items() if k != "MFIF_ENGINE"}
    mfif_exe = str(Path(sys.executable).with_name("mfif"))
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pa, pb = os.path.join(tmp, "A.png"), os.path.join(tmp, "B.png")
        write_image(pa, a)
        write_image(pb, b)
        for m, engine in runs:  # warm-up: file caches, first-import byte compilation
            _set_engine(engine)
            _wall([mfif_exe, "fuse", pa, pb, "-o", os.path.join(tmp, "F.png"), "--method", m], _env(base_env, engine))
            mfif.fuse([a, b], method=m, amp="auto") if _learned(m) else mfif.fuse([a, b], method=m)
        for _ in range(args.repeats):
            times.setdefault("`python -c pass`", []).append(_wall([sys.executable, "-c", "pass"]))
            for m, engine in runs:
                tag = f" (`MFIF_ENGINE={engine}`)" if engine else ""
                key = f"`mfif fuse A.png B.png -o F.png --method {m}` (end to end){tag}"
                times.setdefault(key, []).append(
                    _wall([mfif_exe, "fuse", pa, pb, "-o", os.path.join(tmp, "F.png"), "--method", m],
                          _env(base_env, engine)))
                _set_engine(engine)
                t0 = time.perf_counter()
                mfif.fuse([a, b], method=m, amp="auto") if _learned(m) else mfif.fuse([a, b], method=m)
                times.setdefault(f"`mfif.fuse([a, b], method='{m}')` in-process{tag}", []).append(
                    time.perf_counter() - t0)
        _set_engine(None)
    if args.paper:
        mfif.fuse([a[:96, :96], b[:96, :96]], method="mfif-gan", amp="auto")  # warm-up: loads the weights
        for amp in ("auto", False):
            key = f"`mfif.fuse([a, b], method='mfif-gan', amp={amp!r})` in-process"
            for _ in range(max(1, args.paper_repeats)):
                t0 = time.perf_counter()
                mfif.fuse([a, b], method="mfif-gan", amp=amp)
                times.setdefault(key, []).append(time.perf_counter() - t0)
    load = os.getloadavg()[0]
    print(f"CPU: {cpu_name()}, load average {load:.1f}; 512×512 RGB pair; seconds")
    print("| measurement | median | range | runs |\n|---|--:|--:|--:|")
    for k, v in times.items():
        print(_row(k, v))
    return 0


def _learned(method: str) -> bool:
    from mfif.registry import get_method

    return get_method(method).needs_weights


if __name__ == "__main__":
    sys.exit(main())
