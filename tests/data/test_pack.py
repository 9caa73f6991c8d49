"""Packs: atomic write, bad-item report, checksums, val split; recover-masks / pack / synth CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mfif.cli.main import main
from mfif.data.dataset import SyntheticPairDataset
from mfif.data.pack import Pack, PackSource, write_pack
from mfif.data.synthesis import conventional_pair
from mfif.errors import MfifError


def _save_jpeg(p: Path, x: np.ndarray) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)).save(p, quality=75)


def _mask(h: int, w: int, k: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[8 : 24 + k, 6 : 30] = 1
    return m


def test_pack_round_trip_checksums_and_bad_items(tmp_path: Path, rng: np.random.Generator) -> None:
    srcs = []
    for k in range(5):
        p = tmp_path / "src" / f"im{k}.jpg"
        _save_jpeg(p, rng.random((40, 36, 3)))
        srcs.append(PackSource(f"im{k}", p, _mask(40, 36, k), ambiguity=0.1 * k))
    srcs.append(PackSource("missing", tmp_path / "src" / "nope.jpg", _mask(40, 36, 0)))
    srcs.append(PackSource("wrongsize", tmp_path / "src" / "im0.jpg", _mask(20, 20, 0)))
    (tmp_path / "src" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    srcs.append(PackSource("corrupt", tmp_path / "src" / "bad.jpg", _mask(40, 36, 0)))
    out = tmp_path / "pack"
    man = write_pack(srcs, out, val_count=2, max_ambiguity=0.35, progress=False)
    assert man["counts"] == {"items": 4, "train": 2, "val": 2, "skipped": 3, "dropped": 1}
    assert {s["id"] for s in man["skipped"]} == {"missing", "wrongsize", "corrupt"}
    assert man["dropped"][0]["id"] == "im4"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pack")]  # temp dir renamed away
    pack = Pack(out)
    assert pack.verify() == []
    # Images are stored as the original JPEG bytes; masks decode back exactly.
    assert pack.image_bytes(0) == (tmp_path / "src" / "im0.jpg").read_bytes()
    np.testing.assert_array_equal(pack.load_mask(1), _mask(40, 36, 1))
    # The val rule is seeded, not positional: same ids -> same split.
    man2 = write_pack(srcs[:5], tmp_path / "pack2", val_count=2, max_ambiguity=0.35, progress=False)
    assert [i["split"] for i in man2["items"]] == [i["split"] for i in man["items"]]
    # Tampering is detected.
    (out / pack.items[0]["mask"]).write_bytes(b"x")
    assert len(pack.verify()) == 1
    with pytest.raises(MfifError, match="already exists"):
        write_pack(srcs[:2], out, progress=False)
    # Dataset reads the train split by default.
    ds = SyntheticPairDataset(Pack(tmp_path / "pack2"), crop=32)
    assert len(ds) == 2 and ds[0]["a"].shape == (3, 32, 32)
    assert len(SyntheticPairDataset(tmp_path / "pack2", crop=32, split="val")) == 2
    assert len(SyntheticPairDataset(tmp_path / "pack2", crop=32, split=None, max_ambiguity=0.15)) == 2  # im0, im1


def test_cli_recover_pack_synth(tmp_path: Path, rng: np.random.Generator, capsys) -> None:  # noqa: ANN001
    from scipy.ndimage import gaussian_filter

    trip = tmp_path / "trip"
    masks = {}
    for k in range(4):
        img = gaussian_filter(rng.random((48, 48, 3)), (0.6, 0.6, 0)).clip(0, 1)
        img = (img - img.min()) / (img.max() - img.min())
        m = _mask(48, 48, 2 * k)
        a, b = conventional_pair(img.astype(np.float32), m, sigma=1.5)
        for sub, x in (("groundtruth", img), ("sourceA", a), ("sourceB", b)):
            _save_jpeg(trip / sub / f"t{k}.jpg", x)
        masks[f"t{k}"] = m
    (trip / "sourceB" / "t3.jpg").unlink()  # missing file -> skipped
    _save_jpeg(trip / "sourceA" / "t2.jpg", rng.random((30, 48, 3)))  # size mismatch -> skipped
    rec = tmp_path / "rec"
    assert main(["data", "recover-masks", str(trip), str(rec), "--quiet"]) == 0
    doc = json.loads((rec / "recovery.json").read_text())
    assert [i["id"] for i in doc["items"]] == ["t0", "t1"]
    assert {s["id"] for s in doc["skipped"]} == {"t2", "t3"}
    for it in doc["items"]:
        got = np.asarray(Image.open(rec / it["mask"])) > 0
        inter = (got & (masks[it["id"]] > 0)).sum()
        union = (got | (masks[it["id"]] > 0)).sum()
        assert inter / union > 0.95
    pk = tmp_path / "pk"
    assert main(["data", "pack", str(rec), str(pk), "--val-count", "1", "--quiet"]) == 0
    man = json.loads((pk / "manifest.json").read_text())
    assert man["counts"]["items"] == 2 and man["counts"]["skipped"] == 2
    assert main(["data", "verify", str(pk)]) == 0
    grid = tmp_path / "grid.png"
    assert main(["synth", str(pk), "--preview", str(grid), "--count", "3", "--crop", "32", "--split", "all"]) == 0
    assert Image.open(grid).size == (4 * 32 + 3 * 2, 3 * 32 + 2 * 2)
    assert main(["data", "pack", str(tmp_path / "nowhere"), str(tmp_path / "x"), "--quiet"]) == 2
    assert "nowhere" in capsys.readouterr().err
