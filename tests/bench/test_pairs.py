"""Pair discovery and matching of published outputs by file naming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mfif.bench.pairs import Pair, Published, discover_reference, find_pairs, parse_dataset_arg
from mfif.errors import MfifError
from mfif.io import write_image


def _touch_img(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    write_image(p, np.zeros((4, 4), np.float32))


def test_find_pairs_naming(tmp_path: Path) -> None:
    for name in ["lytro_01_A.jpg", "lytro_01_B.jpg", "lytro_02_A.jpg", "lytro_02_B.jpg", "clock1.bmp", "clock2.bmp",
                 "toy1.bmp", "toy2.bmp", "toy3.bmp", "g_03_1.tif", "g_03_2.tif", "lonely_A.png", "notes.txt"]:
        _touch_img(tmp_path / name) if not name.endswith(".txt") else (tmp_path / name).write_text("x")
    pairs = find_pairs(tmp_path, dataset="x")
    ids = [p.pair_id for p in pairs]
    assert ids == ["clock", "g_03", "lytro_01", "lytro_02", "toy"]
    ly = next(p for p in pairs if p.pair_id == "lytro_02")
    assert ly.a.name == "lytro_02_A.jpg" and ly.b.name == "lytro_02_B.jpg" and ly.index == 2
    toy = next(p for p in pairs if p.pair_id == "toy")
    assert (toy.a.name, toy.b.name) == ("toy1.bmp", "toy2.bmp")  # toy3 of the stack is ignored


def test_find_pairs_errors(tmp_path: Path) -> None:
    with pytest.raises(MfifError, match="not found"):
        find_pairs(tmp_path / "missing")
    with pytest.raises(MfifError, match="no source pairs"):
        find_pairs(tmp_path)
    with pytest.raises(MfifError, match="NAME=PATH"):
        parse_dataset_arg("=x")


def test_published_matching_authors_naming(tmp_path: Path) -> None:
    off = tmp_path / "off"
    for f in ["Lytro_fusion_1.jpg", "Lytro_fusion_12.jpg", "grayscale_fusion_2.jpg", "grayscale_fusion_1.jpg", "MFFW2_fusion_3.jpg"]:
        _touch_img(off / f)
    pub = Published("official:X", off)
    mk = lambda ds, pid: Pair(ds, pid, Path("a"), Path("b"), index=int(pid[-2:]) if pid[-1].isdigit() else None)  # noqa: E731
    assert pub.find(mk("lytro", "lytro_01")).name == "Lytro_fusion_1.jpg"
    assert pub.find(mk("lytro", "lytro_12")).name == "Lytro_fusion_12.jpg"
    assert pub.find(mk("lytro", "lytro_02")) is None
    assert pub.find(mk("mffw", "mffw_03")).name == "MFFW2_fusion_3.jpg"
    # grayscale_fusion_2 is pepsi (inputs/grayscale/README.txt); clock (no. 1) is deliberately unmatched
    assert pub.find(mk("grayscale", "pepsi")).name == "grayscale_fusion_2.jpg"
    assert pub.find(mk("grayscale", "clock")) is None


def test_discover_reference_tree(tmp_path: Path) -> None:
    ref = tmp_path / "reference"
    for d in ["Lytro/MFIF-GAN", "Lytro/MFIF-GAN_BCE", "Lytro/MFIF_diffused_with_3pixels",
              "Lytro/MFIF_contracted_with_2pixels", "MFFW/MFIF-GAN"]:
        _touch_img(ref / "mfif-gan-official" / d / "Lytro_fusion_1.jpg")
    for f in ["lytro_01_CNN.jpg", "lytro_01_GFF.jpg", "mffw_01_CNN.jpg"]:
        _touch_img(ref / "mfifb" / "fused" / f)
    pubs = discover_reference(ref)
    by = {(p.name, p.datasets): p for p in pubs}
    assert by[("official:MFIF-GAN", ("lytro",))].group == "main"
    assert by[("official:MFIF-GAN", ("mffw",))].group == "unranked"  # README: not rankable on MFFW
    assert by[("official:MFIF-GAN_BCE", ("lytro",))].group == "ablation"
    assert by[("official:MFIF_diffused_with_3pixels", ("lytro",))].k == 3
    assert by[("official:MFIF_contracted_with_2pixels", ("lytro",))].k == -2
    cnn = by[("mfifb:CNN", None)]
    assert cnn.find(Pair("lytro", "lytro_01", Path("a"), Path("b"), 1)).name == "lytro_01_CNN.jpg"
    assert cnn.find(Pair("mffw", "mffw_01", Path("a"), Path("b"), 1)).name == "mffw_01_CNN.jpg"
    assert by[("mfifb:GFF", None)].find(Pair("mffw", "mffw_01", Path("a"), Path("b"), 1)) is None
    assert discover_reference(ref, rank_official_mffw=True) and any(
        p.group == "main" and p.datasets == ("mffw",) for p in discover_reference(ref, rank_official_mffw=True))
