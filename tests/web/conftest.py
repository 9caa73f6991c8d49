"""Fixtures of the web-app tests: tiny seeded sources as files, an app client, a job runner."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the web extra is not installed")
pytest.importorskip("httpx", reason="httpx (test extra) is not installed")

HDR = {"X-Mfif": "1"}
METHOD = "laplacian-argmax"  # fast, deterministic


def _sources(rng: np.random.Generator, n: int = 2, h: int = 40, w: int = 48) -> list[np.ndarray]:
    """N sources of one textured scene, source k sharp in the k-th vertical band, blurred elsewhere."""
    from scipy.ndimage import gaussian_filter

    truth = gaussian_filter(rng.random((h, w, 3)), sigma=(0.6, 0.6, 0))
    blurred = gaussian_filter(truth, sigma=(2.0, 2.0, 0))
    out = []
    for k in range(n):
        m = np.zeros((h, w, 1))
        m[:, k * w // n:(k + 1) * w // n] = 1.0
        out.append(np.clip(truth * m + blurred * (1 - m), 0, 1).astype(np.float32))
    return out


def encode_png(img: np.ndarray, bits: int = 8) -> bytes:
    """PNG bytes of a float [0, 1] image written by mfif.io (the same writer the CLI uses)."""
    import tempfile

    from mfif.io import write_image

    with tempfile.TemporaryDirectory() as d:
        p = write_image(Path(d) / "x.png", img, bit_depth=bits)
        return p.read_bytes()


def decode(data: bytes) -> np.ndarray:
    """Raw samples of PNG/TIFF bytes (uint8 or uint16), as stored."""
    import tempfile

    import cv2

    if data[:4] in (b"II*\x00", b"MM\x00*"):
        import tifffile

        return np.asarray(tifffile.imread(io.BytesIO(data)))
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert arr is not None, "not a decodable image"
    return arr[..., ::-1] if arr.ndim == 3 else arr


@pytest.fixture
def sources() -> Callable[..., list[np.ndarray]]:
    rng = np.random.default_rng(2024)
    return lambda n=2, **kw: _sources(rng, n, **kw)


@pytest.fixture
def pair_files(tmp_path: Path, sources) -> list[Path]:  # noqa: ANN001
    """Two 8-bit PNG files of a tiny pair (A sharp left, B sharp right)."""
    paths = []
    for k, img in enumerate(sources(2)):
        p = tmp_path / f"{'ab'[k]}.png"
        p.write_bytes(encode_png(img))
        paths.append(p)
    return paths


def cli_fuse(paths: list[Path], out: Path, *extra: str) -> Path:
    """The CLI's output for the same files (``mfif fuse … --method laplacian-argmax``)."""
    from mfif.cli.main import main

    rc = main(["fuse", *map(str, paths), "-o", str(out), "--method", METHOD, *extra])
    assert rc == 0
    return out


@pytest.fixture
def make_client():
    """``make_client(**config) -> TestClient`` on a loopback base URL; closed (and its results folder
    removed) at the end of the test."""
    from starlette.testclient import TestClient

    from mfif.web.app import WebConfig, create_app

    clients = []

    def make(**cfg: Any):  # noqa: ANN202
        store = cfg.pop("store", None)
        app = create_app(WebConfig(**{"workers": 1, **cfg}), store=store)
        c = TestClient(app, base_url="http://127.0.0.1:8000")
        c.__enter__()
        c.mfif_store = app.state.store
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def post_job(client, files: list[tuple[str, bytes]], **fields: str):  # noqa: ANN001, ANN201
    """POST /api/jobs with the page's header; returns the response."""
    return client.post("/api/jobs", files=[("files", (n, b, "application/octet-stream")) for n, b in files],
                       data={"method": METHOD, **fields}, headers=HDR)


def wait_job(client, jid: str, timeout: float = 60.0) -> dict:  # noqa: ANN001
    """Poll the job until it is done or failed; returns its status."""
    end = time.time() + timeout
    while time.time() < end:
        st = client.get(f"/api/jobs/{jid}").json()
        if st["state"] in ("done", "error"):
            return st
        time.sleep(0.02)
    raise AssertionError(f"job {jid} did not finish in {timeout} s")


@pytest.fixture
def helpers():
    """The module-level helpers, for tests (pytest runs with --import-mode=importlib)."""

    class H:
        pass

    for f in (encode_png, decode, cli_fuse, post_job, wait_job):
        setattr(H, f.__name__, staticmethod(f))
    H.HDR = HDR
    H.METHOD = METHOD
    return H
