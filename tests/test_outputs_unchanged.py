"""Every registered method, with every option combination the fronts use, gives the same outputs as
when the golden hashes were recorded.

The golden file ``tests/golden/fusion_hashes.json`` holds a SHA-256 of the raw bytes of each output
array (fused image, focus map, decision map, depth map) per case. It is regenerated deliberately, after
a change that is *meant* to change outputs, with::

    MFIF_WRITE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_outputs_unchanged.py

Floating-point results of PyTorch, OpenCV and NumPy depend on the CPU's vector instructions (and torch's
on its thread count, pinned to :data:`THREADS` here), so the file also records ``torch.backends.cpu.get_cpu_capability()`` and the torch version; on a machine that
differs in either the test is skipped with a note (CI runs on the machine kind the file was made on).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

GOLDEN = Path(__file__).resolve().parent / "golden" / "fusion_hashes.json"

LITE = "mfif-gan-lite"
# (case id, method, number of sources, gray?, options, align)
LEARNED_PAIR_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("default", {}),
    ("amp-auto", {"amp": "auto"}),
    ("tta2", {"tta": 2}),
    ("tta4", {"tta": 4}),
    ("tta16", {"tta": 16}),
    ("soft", {"soft": True}),
    ("edge-a-soft", {"edge_guide": "a", "soft": True}),
    ("edge-b", {"edge_guide": "b"}),
    ("spread", {"spread_correction": True}),
    ("soft-boundary", {"soft_boundary": 3.0}),
    ("tile", {"tile": 32, "tile_overlap": 8}),
    ("tile-default-overlap", {"tile": 32}),
    ("no-post", {"postprocess": False}),
    ("region", {"min_region_ratio": 0.01}),
    ("threshold", {"threshold": 0.4}),
    ("symmetric", {"symmetric": True}),
    ("edge-auto-soft", {"edge_guide": "auto", "soft": True}),
    ("near-b-soft-spread", {"near": "b", "soft": True, "spread_correction": True}),
    ("order-given", {"order": "given"}),
    ("order-given-soft", {"order": "given", "soft": True}),
]


def _cases() -> list[tuple[str, str, int, bool, dict[str, Any], str]]:
    from mfif.registry import list_methods

    cases = []
    for info in list_methods():
        if info.needs_weights or info.name.startswith("_"):  # learned: below; _: registered by tests
            continue
        cases.append((f"{info.name}/pair", info.name, 2, False, {}, "none"))
        cases.append((f"{info.name}/stack3-gray", info.name, 3, True, {}, "none"))
    for cid, opts in LEARNED_PAIR_OPTIONS:
        cases.append((f"{LITE}/pair/{cid}", LITE, 2, False, opts, "none"))
    cases += [
        (f"{LITE}/pair-gray", LITE, 2, True, {}, "none"),
        (f"{LITE}/stack3/vote", LITE, 3, False, {}, "none"),
        (f"{LITE}/stack3/sequential", LITE, 3, False, {"stack_strategy": "sequential"}, "none"),
        (f"{LITE}/stack3/vote-tta2", LITE, 3, False, {"tta": 2}, "none"),
        (f"{LITE}/stack3/align-ecc", LITE, 3, False, {}, "ecc"),
        ("mfif-gan/pair", "mfif-gan", 2, False, {}, "none"),
        ("mfif-gan-lite-tta2/pair", "mfif-gan-lite-tta2", 2, False, {}, "none"),
        ("mfif-gan-lite-tta/pair", "mfif-gan-lite-tta", 2, False, {}, "none"),
        ("mfif-gan-lite-soft/pair", "mfif-gan-lite-soft", 2, False, {}, "none"),
        ("mfif-gan-lite-soft/stack3", "mfif-gan-lite-soft", 3, False, {}, "none"),
        ("mfif-gan-lite-tta16-soft/pair", "mfif-gan-lite-tta16-soft", 2, False, {}, "none"),
        ("mfif-stack/pair", "mfif-stack", 2, False, {}, "none"),
        ("mfif-stack/stack3", "mfif-stack", 3, False, {}, "none"),
        ("mfif-stack/stack3-gray", "mfif-stack", 3, True, {}, "none"),
        ("mfif-stack/stack3/tta2", "mfif-stack", 3, False, {"tta": 2}, "none"),
        ("mfif-stack/stack3/align-ecc", "mfif-stack", 3, False, {}, "ecc"),
        ("cnn/pair", "cnn", 2, False, {}, "none"),
        ("cnn/pair/mfif-gan-postprocess", "cnn", 2, False, {"postprocess": "mfif-gan"}, "none"),
        ("mmf-net/pair", "mmf-net", 2, False, {}, "none"),
        ("fusegan/pair", "fusegan", 2, False, {}, "none"),
        ("fusegan/pair-gray", "fusegan", 2, True, {}, "none"),
    ]
    return cases


def _sources(n: int, gray: bool) -> list[np.ndarray]:
    """n seeded 48×56 sources, source k sharp in the k-th ring around an off-centre point (a tiny
    focus stack with curved boundaries and a mild blur, so soft maps are uncertain near them)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    h, w = 48, 56
    truth = gaussian_filter(rng.random((h, w, 3)), sigma=(0.8, 0.8, 0)).astype(np.float32)
    blurred = gaussian_filter(truth, sigma=(1.2, 1.2, 0)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - 20.5, xx - 31.0)
    edges = np.quantile(r, np.linspace(0, 1, n + 1))
    edges[-1] += 1
    out = []
    for k in range(n):
        m = ((r >= edges[k]) & (r < edges[k + 1])).astype(np.float32)[..., None]
        im = truth * m + blurred * (1 - m)
        out.append(im.mean(axis=2).astype(np.float32) if gray else im.astype(np.float32))
    return out


def _digest(res: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key in ("fused", "focus_map", "decision_map", "depth_map"):
        arr = getattr(res, key)
        out[key] = None if arr is None else hashlib.sha256(
            np.ascontiguousarray(arr).tobytes() + str((arr.dtype, arr.shape)).encode()
        ).hexdigest()[:20]
    return out


def _run(method: str, n: int, gray: bool, opts: dict[str, Any], align: str) -> dict[str, str | None]:
    import mfif
    from mfif.registry import get_method

    torch.manual_seed(0)
    if get_method(method).needs_weights:
        opts = {"device": "cpu", **opts}
    res = mfif.fuse(_sources(n, gray), method=method, align=align, **opts)
    return _digest(res)


def _machine() -> dict[str, str]:
    return {"cpu_capability": str(torch.backends.cpu.get_cpu_capability()), "torch": torch.__version__.split("+")[0]}


#: torch's intra-op thread count while the cases run: float sums of the paper model's larger layers are
#: split by thread, so their last bits depend on it (the hashes were recorded with 2).
THREADS = 2


@pytest.mark.slow
def test_every_method_and_option_gives_the_recorded_outputs() -> None:
    cases = _cases()
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        got = {cid: _run(m, n, g, o, al) for cid, m, n, g, o, al in cases}
    finally:
        torch.set_num_threads(before)
    if os.environ.get("MFIF_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps({"machine": _machine(), "cases": got}, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {GOLDEN} ({len(got)} cases)")
    golden = json.loads(GOLDEN.read_text())
    if golden["machine"] != _machine():
        pytest.skip(f"golden hashes were recorded on {golden['machine']}, this machine is {_machine()}")
    missing = sorted(set(golden["cases"]) - set(got))
    assert not missing, f"cases no longer run: {missing}"
    changed = {cid: {k: (golden["cases"][cid][k], v) for k, v in h.items() if golden["cases"][cid].get(k) != v}
               for cid, h in got.items() if cid in golden["cases"] and golden["cases"][cid] != h}
    assert not changed, f"outputs changed: {json.dumps(changed, indent=1)}"
    new = sorted(set(got) - set(golden["cases"]))
    assert not new, f"cases without a recorded hash (regenerate deliberately): {new}"
