"""The bench runner: CSV layout, resume, published and format-matched scoring, report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mfif.bench.runner as runner
from mfif.bench.formats import jpeg_roundtrip
from mfif.bench.pairs import Published, parse_dataset_arg
from mfif.bench.report import ReportOptions, make_report
from mfif.bench.runner import SCORE_FIELDS, BenchConfig, run_bench
from mfif.io import read_image
from mfif.metrics import METRIC_NAMES, evaluate

METHODS = ["laplacian-argmax", "sf"]


def _rows(p: Path) -> list[dict]:
    with open(p, newline="") as fh:
        return list(csv.DictReader(fh))


def _published(tmp_path: Path, truths: list[np.ndarray]) -> Path:
    d = tmp_path / "pub"
    d.mkdir()
    for i, t in enumerate(truths[:2], 1):  # pairs 1 and 2; pair 3 has a file of the wrong size
        Image.fromarray((t * 255).round().astype(np.uint8)).save(d / f"t_{i:02d}.jpg", quality=75, subsampling="4:2:0")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / "t_03.jpg", quality=75)
    return d


@pytest.fixture
def cfg(tmp_path: Path, tiny_dataset) -> BenchConfig:  # noqa: ANN001
    root, truths = tiny_dataset
    return BenchConfig(
        datasets=[parse_dataset_arg(f"t={root}")], methods=METHODS, out=tmp_path / "out",
        published=[Published("pub:P", _published(tmp_path, truths))], progress=False,
    )


def test_csv_layout_and_scores(cfg: BenchConfig) -> None:
    res = run_bench(cfg)
    rows = _rows(cfg.out / "scores.csv")
    assert list(rows[0].keys()) == SCORE_FIELDS
    assert SCORE_FIELDS[-12:] == list(METRIC_NAMES)
    ours = [r for r in rows if r["source"] == "ours"]
    assert sorted({(r["method"], r["format"]) for r in ours}) == sorted(
        (m, f) for m in METHODS for f in ("png", "jpeg-matched"))
    assert len(ours) == 3 * 2 * 2
    pub = [r for r in rows if r["source"] == "published"]
    assert sorted(r["pair"] for r in pub) == ["t_01", "t_02"]  # t_03: size mismatch -> skipped, reported
    assert [s["pair"] for s in res["skipped"]] == ["t_03"]
    runs = _rows(cfg.out / "runs.csv")
    assert len(runs) == 6 and all(float(r["seconds"]) >= 0 and r["device"].startswith("CPU: ") for r in runs)
    # the stored lossless score is the score of the stored PNG against the stored sources
    r = next(r for r in ours if r["method"] == "sf" and r["pair"] == "t_02" and r["format"] == "png")
    pair = cfg.datasets[0].pairs[1]
    a, b = read_image(pair.a)[0], read_image(pair.b)[0]
    f = read_image(runner.output_path(cfg.out, "t", "sf", "t_02"))[0]
    assert float(r["QG"]) == pytest.approx(evaluate(a, b, f, metrics=["QG"])["QG"], rel=1e-12)
    # format-matched: our PNG re-encoded with the published file's JPEG settings (q75 4:2:0 here)
    j = next(r for r in ours if r["method"] == "sf" and r["pair"] == "t_02" and r["format"] == "jpeg-matched")
    want = evaluate(a, b, jpeg_roundtrip(f), metrics=["QM", "MI"])
    assert float(j["QM"]) == pytest.approx(want["QM"], rel=1e-12)
    assert float(j["MI"]) == pytest.approx(want["MI"], rel=1e-12)
    assert "t_02.jpg" in j["file"]
    assert float(j["QM"]) != float(r["QM"])  # the JPEG path really changed the image


def test_resume_skips_existing(cfg: BenchConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    run_bench(cfg)
    before = (cfg.out / "scores.csv").read_text()
    calls = []
    real = runner._fuse

    def counting(method, a, b, c):  # noqa: ANN001, ANN202
        calls.append(method)
        return real(method, a, b, c)

    monkeypatch.setattr(runner, "_fuse", counting)
    scored = []
    real_score = runner._score
    monkeypatch.setattr(runner, "_score", lambda *a, **k: scored.append(1) or real_score(*a, **k))
    run_bench(cfg)
    assert calls == [] and scored == []
    assert (cfg.out / "scores.csv").read_text() == before
    # a deleted output is re-made (with one warm-up call), nothing else recomputed
    runner.output_path(cfg.out, "t", "sf", "t_01").unlink()
    rows = [r for r in _rows(cfg.out / "scores.csv") if not (r["method"] == "sf" and r["pair"] == "t_01")]
    runner.write_csv(cfg.out / "scores.csv", rows, SCORE_FIELDS)
    run_bench(cfg)
    assert calls == ["sf", "sf"] and len(scored) == 2


def test_report_written(cfg: BenchConfig) -> None:
    res = run_bench(cfg)
    docs = cfg.out.parent / "docs" / "results.md"
    md = make_report(cfg, res, ReportOptions(fig6_limit=1, ks=(-1, 0, 1), docs=docs))
    text = md.read_text()
    assert "## Table 1" in text and "as delivered" in text and "format-matched" in text and "## Table 2" in text
    assert "pub:P" in text and "Avg. rank" in text
    assert (cfg.out / "tables" / "table1_t_as-delivered.md").is_file()
    long = _rows(cfg.out / "scores_long.csv")
    assert len(long) == 12 * len(_rows(cfg.out / "scores.csv"))
    assert {r["direction"] for r in long if r["metric"] == "LIF"} == {"lower"}
    assert (cfg.out / "figures" / "fig6_t.png").is_file()
    assert (cfg.out / "figures" / "visual_t_t_01.png").is_file()
    assert (cfg.out / "figures" / "mapdiff_t_t_01.png").is_file()
    assert "(figures/fig6_t.png)" in text
    assert "(../out/figures/fig6_t.png)" in docs.read_text()  # links relative to the docs file


def test_failing_method_is_dropped_not_fatal(cfg: BenchConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    real = runner._fuse

    def broken(method, a, b, c):  # noqa: ANN001, ANN202
        if method == "sf":
            from mfif.errors import MfifError

            raise MfifError("no weights installed for sf")
        return real(method, a, b, c)

    monkeypatch.setattr(runner, "_fuse", broken)
    cfg.format_match = False
    with pytest.warns(UserWarning, match="sf failed on t/t_01"):
        res = run_bench(cfg)
    assert [(f["pair"], f["method"]) for f in res["failed"]] == [("t_01", "sf")]  # dropped after the first failure
    assert {r["method"] for r in res["scores"] if r["source"] == "ours"} == {"laplacian-argmax"}
    text = make_report(cfg, res, ReportOptions(fig6_method="")).read_text()
    assert "no weights installed for sf" in text


def test_parallel_published_scoring_matches_serial(cfg: BenchConfig, tmp_path: Path) -> None:
    cfg.methods, cfg.format_match = [], False
    serial = {r["pair"]: r for r in run_bench(cfg)["scores"]}
    cfg.out, cfg.jobs = tmp_path / "par", 2
    par = run_bench(cfg)
    assert [s["pair"] for s in par["skipped"]] == ["t_03"]
    assert {r["pair"]: r for r in par["scores"]} == serial
