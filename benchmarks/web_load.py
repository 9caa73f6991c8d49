"""Load on the web app, loopback only: N concurrent fuse requests against ``mfif serve`` with 2 workers.

Usage::

    python benchmarks/web_load.py --inputs ../shared/data/inputs/lytro     # Lytro pairs (520×520 JPEG)
    python benchmarks/web_load.py                                          # synthetic 520×520 pairs
    python benchmarks/web_load.py --requests 50 --workers 2 --method laplacian-argmax

Starts ``python -m mfif serve --port 0`` (127.0.0.1) as a subprocess and sends ``--requests`` jobs at
once from as many client threads. Request ``i`` uploads pair ``i mod P`` rolled by ``i`` columns as
PNG, so every request has its own inputs; each client polls its job, downloads the result and
compares it with :func:`mfif.api.fuse` run here on the same input (the CLI's options), so a lost or
mixed-up job is counted. Latency is from the POST to the end of the download. Memory is the
server's resident set size (``/proc/PID/status`` VmRSS) sampled every 0.1 s. Prints one JSON line.
Sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def load_pairs(folder: str | None, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from mfif.io import read_image

    if folder is None:
        from scipy.ndimage import gaussian_filter

        rng = np.random.default_rng(0)
        out = []
        for _ in range(n):
            truth = gaussian_filter(rng.random((520, 520, 3)), sigma=(1.0, 1.0, 0))
            blur = gaussian_filter(truth, sigma=(3.0, 3.0, 0))
            m = np.zeros((520, 520, 1))
            m[:, : rng.integers(150, 370)] = 1
            out.append(((truth * m + blur * (1 - m)).astype(np.float32), (blur * m + truth * (1 - m)).astype(np.float32)))
        return out
    d = Path(folder)
    pairs = []
    for a in sorted(d.glob("*_A.*")):
        b = next(iter(sorted(d.glob(a.name.replace("_A.", "_B.").rsplit(".", 1)[0] + ".*"))), None)
        if b is not None:
            pairs.append((read_image(a)[0], read_image(b)[0]))
    if not pairs:
        raise SystemExit(f"{d}: no *_A.* / *_B.* pairs")
    return pairs


def png_bytes(img: np.ndarray) -> bytes:
    import tempfile

    from mfif.io import write_image

    with tempfile.TemporaryDirectory() as t:
        return write_image(Path(t) / "x.png", img).read_bytes()


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "mfifbench" + os.urandom(8).hex()
    buf = io.BytesIO()
    for k, v in fields.items():
        buf.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for name, data in files:
        buf.write(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                  "Content-Type: image/png\r\n\r\n".encode())
        buf.write(data)
        buf.write(b"\r\n")
    buf.write(f"--{boundary}--\r\n".encode())
    return buf.getvalue(), f"multipart/form-data; boundary={boundary}"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", default=None, help="folder of *_A.* / *_B.* pairs (default: synthetic 520×520)")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--method", default=None, help="fusion method (default: the server's default)")
    args = ap.parse_args()

    from mfif.api import fuse
    from mfif.fusion.methods import default_method
    from mfif.io import read_image
    from mfif.registry import get_method

    method = args.method or default_method()
    learned = get_method(method).needs_weights
    pairs = load_pairs(args.inputs, 20)
    jobs = []
    for i in range(args.requests):
        a, b = pairs[i % len(pairs)]
        a, b = np.roll(a, i, axis=1), np.roll(b, i, axis=1)
        pa, pb = png_bytes(a), png_bytes(b)
        a8, b8 = (read_image_bytes(read_image, p) for p in (pa, pb))
        opts = {"amp": "auto"} if learned else {}
        expect = fuse([a8, b8], method=method, **opts).fused
        jobs.append({"files": [(f"r{i}_A.png", pa), (f"r{i}_B.png", pb)],
                     "expect": np.round(np.clip(expect, 0, 1) * 255).astype(np.uint8)})

    proc = subprocess.Popen([sys.executable, "-m", "mfif", "serve", "--port", "0", "--workers", str(args.workers),
                             "--queue", str(max(64, args.requests))], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://localhost:", 1)[1].split("/", 1)[0])
        time.sleep(0.5)
        idle_rss = rss_mib(proc.pid)
        peak = [idle_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mib(proc.pid))
                time.sleep(0.1)

        results: list[dict] = [{} for _ in jobs]
        go = threading.Barrier(len(jobs))

        def client(i: int) -> None:
            import cv2

            job = jobs[i]
            body, ctype = multipart(job["files"], {"method": method})
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            go.wait()
            t0 = time.perf_counter()
            conn.request("POST", "/api/jobs", body=body, headers={"Content-Type": ctype, "X-Mfif": "1"})
            r = conn.getresponse()
            data = json.loads(r.read())
            if r.status != 202:
                results[i] = {"ok": False, "why": f"{r.status} {data}"}
                return
            jid = data["id"]
            while True:
                conn.request("GET", f"/api/jobs/{jid}")
                st = json.loads(conn.getresponse().read())
                if st["state"] in ("done", "error"):
                    break
                time.sleep(0.05)
            if st["state"] != "done":
                results[i] = {"ok": False, "why": st["error"]}
                return
            conn.request("GET", f"/api/jobs/{jid}/download/fused.png")
            png = conn.getresponse().read()
            t1 = time.perf_counter()
            got = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
            results[i] = {"ok": True, "latency": t1 - t0, "same": bool(np.array_equal(got, job["expect"]))}

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(jobs))]
        t_start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t_start
        stop.set()
        sampler.join()
        after_rss = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    lat = np.array([r["latency"] for r in results if r.get("ok")])
    print(json.dumps({
        "requests": len(jobs), "workers": args.workers, "method": method,
        "inputs": args.inputs or "synthetic 520x520", "completed": int(len(lat)),
        "identical_to_api": int(sum(r.get("same", False) for r in results)),
        "failed": [r.get("why") for r in results if not r.get("ok")],
        "latency_s": {"p50": round(float(np.percentile(lat, 50)), 2), "p95": round(float(np.percentile(lat, 95)), 2),
                      "max": round(float(lat.max()), 2)} if len(lat) else None,
        "wall_s": round(wall, 2),
        "server_rss_mib": {"idle": round(idle_rss), "peak": round(peak[0]), "after": round(after_rss)},
    }))


def read_image_bytes(read_image, data: bytes) -> np.ndarray:  # noqa: ANN001
    import tempfile

    with tempfile.TemporaryDirectory() as t:
        p = Path(t) / "x.png"
        p.write_bytes(data)
        return read_image(p)[0]


if __name__ == "__main__":
    main()
