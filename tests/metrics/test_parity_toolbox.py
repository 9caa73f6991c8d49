"""Parity with the reference MATLAB toolbox (run under GNU Octave 7.3).

Provenance of every reference number:
* camera values: ../shared/docs/metrics-spec.md section 14 (reference toolbox under Octave 7.3 on
  ../shared/data/metric-examples/camera_{A,B,F,Favg}.png), copied here to 12 significant digits.
* Lytro values: read at test time from
  ../shared/data/metric-examples/reference-lytro-mfif-gan-official.csv (same reference run).
Both need ../shared and are skipped without it. Tolerance 1e-9 relative (the issue's requirement).
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from mfif.io import read_image
from mfif.metrics import evaluate, evaluate_gray255
from mfif.metrics._core import Triple
from mfif.metrics._prep import to_gray255

TOOLBOX = ("MI", "TE", "NCIE", "QG", "QM", "SF", "QY", "QCB")
# metrics-spec.md §14, columns: F = perfect selection, F = (A+B)/2.
CAMERA = {
    "MI": (1.30703367386, 0.989525797806),
    "TE": (0.457736389157, 0.471093245715),
    "NCIE": (0.848893961957, 0.830591067706),
    "QG": (0.738197576755, 0.489024944775),
    "QM": (2.84408251201, 0.190848124897),
    "SF": (-0.0085690992973, -0.470333430112),
    "QY": (0.99510599539, 0.831389741823),
    "QCB": (0.818613464799, 0.569819713096),
}
# The spec's section-12 candidate definitions (same table); tested against our candidate functions.
CAMERA_NOREF = {
    "LIF:sin_gray": (0.491108769658, 0.506849812138),
    "AG:fwd_gray_01": (0.0409425249829, 0.0224967451184),
    "MSD:var_gray01": (0.0835506229878, 0.0767400215442),
    "GLD:gray_01": (0.0717600319636, 0.0395270597282),
}
REL = 1e-9


def _camera(shared_dir, name):  # noqa: ANN001, ANN202
    return read_image(shared_dir / "data" / "metric-examples" / f"camera_{name}.png")[0]


@pytest.mark.shared
@pytest.mark.parametrize("col,fname", [(0, "F"), (1, "Favg")])
def test_camera_toolbox(shared_dir, col, fname):  # noqa: ANN001
    a, b, f = _camera(shared_dir, "A"), _camera(shared_dir, "B"), _camera(shared_dir, fname)
    for mode in ("stable", "faithful"):  # textured image: both QY modes equal the reference
        r = evaluate(a, b, f, metrics=TOOLBOX, qy_mode=mode)
        for k in TOOLBOX:
            assert r[k] == pytest.approx(CAMERA[k][col], rel=REL), (k, mode)


@pytest.mark.shared
@pytest.mark.parametrize("col,fname", [(0, "F"), (1, "Favg")])
def test_camera_noref_candidates(shared_dir, col, fname):  # noqa: ANN001
    from mfif.metrics import noref

    f = _camera(shared_dir, fname)
    g = to_gray255(f)
    for key, ref in CAMERA_NOREF.items():
        metric, cand = key.split(":")
        assert noref.CANDIDATES[metric][cand](g, None) == pytest.approx(ref[col], rel=REL), key


def _lytro_rows(shared_dir):  # noqa: ANN001, ANN202
    path = shared_dir / "data" / "metric-examples" / "reference-lytro-mfif-gan-official.csv"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


def _lytro_triple(shared_dir, i):  # noqa: ANN001, ANN202
    d = shared_dir / "data"
    paths = (
        d / "inputs" / "lytro" / f"lytro_{i:02d}_A.jpg",
        d / "inputs" / "lytro" / f"lytro_{i:02d}_B.jpg",
        d / "reference" / "mfif-gan-official" / "Lytro" / "MFIF-GAN" / f"Lytro_fusion_{i}.jpg",
    )
    return [to_gray255(read_image(p)[0], name=str(p)) for p in paths]


@pytest.mark.shared
@pytest.mark.slow
def test_lytro_per_image(shared_dir):  # noqa: ANN001
    """Seven toolbox metrics per image at 1e-9; QY faithful where it is not filter-rounding noise."""
    rows = _lytro_rows(shared_dir)
    assert len(rows) == 20
    qy_match = qy_finite = 0
    for row in rows:
        ga, gb, gf = _lytro_triple(shared_dir, int(row["pair"]))
        r = evaluate_gray255(ga, gb, gf, metrics=TOOLBOX, qy_mode="faithful")
        for k in ("MI", "TE", "NCIE", "QG", "QM", "SF", "QCB"):
            assert r[k] == pytest.approx(float(row[k]), rel=REL), (row["pair"], k)
        t = Triple(ga, gb, gf)
        assert t.te_cvejic() == pytest.approx(float(row["TE_CVEJIC"]), rel=REL)
        assert t.qm(scale=1 / 255) == pytest.approx(float(row["QM_01"]), rel=REL)
        ref_qy = float(row["QY"])
        if not math.isnan(ref_qy):
            qy_finite += 1
            qy_match += bool(np.isfinite(r["QY"]) and abs(r["QY"] - ref_qy) <= REL * abs(ref_qy))
    # Faithful QY depends on which 7x7 windows round to exactly flat (spec 8.2/8.5): Octave gives
    # NaN on 12/20 pairs; our full-2-D filtering reproduces 7 of its 8 finite values to 1e-9
    # (pair 19 is NaN here). Requiring >= 7 guards against regressions.
    assert qy_finite == 8
    assert qy_match >= 7
