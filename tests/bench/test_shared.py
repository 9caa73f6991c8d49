"""The bench on the real shared data (skipped without ../shared)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mfif.bench.pairs import discover_reference, parse_dataset_arg
from mfif.bench.runner import BenchConfig, run_bench


@pytest.mark.shared
def test_official_output_scores_match_toolbox(shared_dir: Path, tmp_path: Path) -> None:
    """Discovery + pairing + scoring of the authors' Lytro output 1 reproduce the reference values.

    Golden numbers: data/metric-examples/reference-lytro-mfif-gan-official.csv, computed with the
    MATLAB toolbox under GNU Octave 7.3 for A=lytro_01_A, B=lytro_01_B, F=Lytro_fusion_1.jpg.
    """
    data = shared_dir / "data"
    with open(data / "metric-examples" / "reference-lytro-mfif-gan-official.csv") as fh:
        ref = next(r for r in csv.DictReader(line for line in fh if not line.startswith("#")) if r["pair"] == "1")
    pubs = [p for p in discover_reference(data / "reference") if p.name == "official:MFIF-GAN" and p.group == "main"]
    cfg = BenchConfig(datasets=[parse_dataset_arg(f"lytro={data / 'inputs' / 'lytro'}")], methods=[],
                      out=tmp_path, published=pubs, pairs=["lytro_01"], metrics=["MI", "QG", "QM", "QCB"],
                      progress=False)
    rows = run_bench(cfg)["scores"]
    row = next(r for r in rows if r["method"] == "official:MFIF-GAN" and r["dataset"] == "lytro")
    assert row["pair"] == "lytro_01" and row["file"].endswith("Lytro_fusion_1.jpg")
    for m in ("MI", "QG", "QM", "QCB"):
        assert float(row[m]) == pytest.approx(float(ref[m]), abs=1e-6), m
