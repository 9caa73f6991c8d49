"""Synthetic known-truth evaluation: band PSNR on a constructed case, references, pack input."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mfif.bench.synthetic import (
    SyntheticPair,
    builtin_pairs,
    evaluate_synthetic,
    pack_pairs,
    summarize,
)


def _half_mask(n: int = 32) -> np.ndarray:
    m = np.zeros((n, n), np.float32)
    m[:, : n // 2] = 1  # columns 0..15 = A
    return m


def test_references_and_method() -> None:
    pairs = builtin_pairs(n=2, size=48, sigma=2.0, seed=1)
    assert [p.pair_id for p in pairs] == ["astronaut", "chelsea"]
    assert all(p.a.shape == (48, 48, 3) and 0.2 <= p.mask.mean() <= 0.8 for p in pairs)
    rows = evaluate_synthetic(pairs, ["laplacian-argmax"], ssim=True)
    summary = summarize(rows)
    assert list(summary) == ["truth-mask", "laplacian-argmax"]
    t = summary["truth-mask"]
    assert t["iou"] == 1.0 and t["psnr"] > 30 and 0.9 < t["ssim"] <= 1.0
    # the true-mask hard pick is perfect away from the boundary (A = I inside the mask exactly)
    assert t["psnr"] > t["psnr_band"]
    lap = summary["laplacian-argmax"]
    assert 0 < lap["iou"] < 1 and lap["psnr"] < t["psnr"]


def test_resume_rows_reused() -> None:
    p = SyntheticPair("x", *(np.zeros((8, 8, 3), np.float32),) * 3, _half_mask(8), 1.0)
    done = {("x", "truth-mask"): {"pair": "x", "method": "truth-mask", "psnr": 1.0}}
    rows = evaluate_synthetic([p], [], done=done)
    assert rows[0] is done[("x", "truth-mask")]  # reused as is, not recomputed
    assert [r["method"] for r in rows] == ["truth-mask", "laplacian-argmax"] and rows[1]["setting"] == ""


def test_pack_val_items(tmp_path: Path, rng: np.random.Generator) -> None:
    from PIL import Image

    from mfif.data.pack import PackSource, write_pack

    srcs = []
    for i in range(4):
        p = tmp_path / f"img{i}.png"
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(p)
        m = np.zeros((24, 32), np.float32)
        m[:, : 10 + i] = 1
        srcs.append(PackSource(id=f"img{i}", image=p, mask=m, extra={"sigma": 1.0 + i}))
    write_pack(srcs, tmp_path / "pack", val_count=2, progress=False)
    pairs = pack_pairs(tmp_path / "pack", sigma=1.5)
    assert len(pairs) == 2 and all(p.truth.shape == (24, 32, 3) and p.sigma == 1.5 for p in pairs)
    own = pack_pairs(tmp_path / "pack")  # default: each item's own sigma from the manifest
    assert sorted(p.sigma for p in own) == sorted(1.0 + int(p.pair_id[-1]) for p in own)
    rows = evaluate_synthetic(pairs, [], references=True)
    assert {r["method"] for r in rows} == {"truth-mask", "laplacian-argmax"}
