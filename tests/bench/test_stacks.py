"""``mfif bench stacks``: suite, scores, strategy choice, the openfocus skip path and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.bench import stacks as bs
from mfif.cli.main import main
from mfif.data.stacks import focal_stack


def test_suite_is_seeded_and_split_in_halves():
    cases = bs.make_suite((5, 12), size=64, per_type=1, seed=0)
    assert len(cases) == 2 * 3 * 4 and len({c.id for c in cases}) == len(cases)
    assert cases == bs.make_suite((5, 12), size=64, per_type=1, seed=0)
    assert [c.half for c in cases] != [c.half for c in bs.make_suite((5, 12), size=64, per_type=1, seed=1)] or \
        [c.id for c in cases] != [c.id for c in bs.make_suite((5, 12), size=64, per_type=1, seed=1)]
    for n in (5, 12):
        for t in ("layers", "tilted", "smooth"):
            g = [c for c in cases if c.n == n and c.depth_type == t]
            assert sorted(c.half for c in g) == ["report", "report", "select", "select"]
            assert {(c.noise, c.breathing) for c in g} == set(bs.VARIANTS)
            assert {c.kernel for c in g} == {"gaussian", "disk"}
    s = cases[0].build()
    assert len(s.frames) == cases[0].n and s.truth.shape == (64, 64, 3)


def test_scores_perfect_haloed_and_wrong_depth():
    s = focal_stack(5, size=(128, 128), depth_type="layers", seed=2)
    perfect = bs.score(s, s.truth, s.depth)
    assert perfect["psnr"] > 100 and perfect["ssim"] == pytest.approx(1) and perfect["depth_acc"] == 1
    assert perfect["halo"] == pytest.approx(0, abs=1e-9) and perfect["psnr_edge"] > 100
    # a low-frequency glow along the depth edges: the halo score sees it, away from edges nothing changes
    from scipy import ndimage

    glow = ndimage.gaussian_filter(s.edges.astype(np.float32), 3) * 0.3
    haloed = np.clip(s.truth + glow[..., None], 0, 1)
    h = bs.score(s, haloed, None)
    assert h["halo"] > 1.0 and np.isnan(h["depth_acc"]) and h["psnr_edge"] < h["psnr"]
    off = bs.score(s, s.truth, np.clip(s.depth + 2, 0, 4))
    assert off["depth_acc"] < 0.9
    assert np.isnan(bs.score(focal_stack(3, size=(48, 48), depth_type="tilted", seed=1),
                             focal_stack(3, size=(48, 48), depth_type="tilted", seed=1).truth, None)["halo"])


def test_choose_strategy_on_the_select_half():
    rows = []
    for i, half in enumerate(["select", "select", "report", "report"]):
        rows += [dict(case=f"c{i}", half=half, method="m:vote", psnr=40 + (3 if half == "select" else -3), seconds=2),
                 dict(case=f"c{i}", half=half, method="m:sequential", psnr=40, seconds=1),
                 dict(case=f"c{i}", half=half, method="gff", psnr=50, seconds=1)]
    sel = bs.choose_strategy(rows, half="select")
    assert sel["m"]["choice"] == "vote" and sel["m"]["stacks"] == 2 and sel["m"]["psnr"]["vote"] == 43
    assert bs.choose_strategy(rows, half="report")["m"]["choice"] == "sequential"
    text = bs.strategy_markdown(rows)
    assert "`m` → **vote**" in text and "report half the better one is sequential" in text


def test_peak_rss_sees_an_allocation():
    with bs.PeakRSS() as mem:
        a = np.ones(64 * 2**20 // 8)  # 64 MiB touched
        a.sum()
    del a
    assert mem.peak_mib > 40


def test_run_skips_openfocus_with_a_note_when_absent(monkeypatch, capsys):
    monkeypatch.setattr(bs, "openfocus_note", lambda: "openfocus not importable (test)")
    cases = bs.make_suite((3,), size=48, types=("layers",), variants=((False, False), (True, True)))
    rows = bs.run_stacks(cases, ["laplacian-argmax", "openfocus:dct"], progress=False, warmup=False)
    err = capsys.readouterr().err
    assert err.count("openfocus not importable (test)") == 1
    assert [r["method"] for r in rows] == ["laplacian-argmax"] * 2
    assert all(r["psnr"] > 25 and r["depth_acc"] > 0.7 and r["seconds"] >= 0 for r in rows)
    rows2 = bs.run_stacks(cases, ["laplacian-argmax"], progress=False, warmup=False, done=[(cases[0].id, "laplacian-argmax")])
    assert [r["case"] for r in rows2] == [cases[1].id]


@pytest.mark.skipif(bs.openfocus_note() is not None, reason="openfocus is not installed")
def test_openfocus_method_runs_when_installed():
    s = focal_stack(3, size=(48, 48), depth_type="tilted", seed=0)
    fused, depth = bs.run_method("openfocus:dct", s.frames)
    assert depth is None and fused.shape == s.truth.shape and fused.dtype == np.float32
    assert bs.score(s, fused, None)["psnr"] > 25


def test_default_methods():
    ms = bs.default_methods(openfocus=False)
    assert [m for m in ms if m.startswith("mfif-gan-lite:")] == ["mfif-gan-lite:vote", "mfif-gan-lite:sequential"]
    assert set(bs.FAST_CLASSICAL) <= set(ms) and not any(m.startswith("openfocus:") for m in ms)
    assert len(bs.default_methods(all_classical=True, openfocus=False)) > len(ms)
    assert "openfocus:stackmffv3" in bs.default_methods()


def test_cli_writes_tables_and_figure(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bs, "openfocus_note", lambda: "openfocus not importable (test)")
    out = tmp_path / "run"
    code = main(["bench", "stacks", "--n", "3", "--size", "48", "--types", "layers", "--methods",
                 "laplacian-argmax,gff,openfocus:dct", "--out", str(out), "--no-progress"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "openfocus not importable" in cap.err and "| laplacian-argmax |" in cap.out
    assert (out / "stacks.csv").exists() and (out / "stacks.png").stat().st_size > 1000
    md = (out / "stacks.md").read_text()
    assert "Machine:" in md and "## Report half" in md and "--size 48" in md and "| 3 | gff |" in md
    # resumed: nothing new is fused
    code = main(["bench", "stacks", "--n", "3", "--size", "48", "--types", "layers", "--methods",
                 "laplacian-argmax,gff", "--out", str(out), "--no-progress"])
    assert code == 0 and len((out / "stacks.csv").read_text().splitlines()) == 1 + 2 * 4
    capsys.readouterr()
    assert main(["bench", "stacks", "--n", "x", "--out", str(out)]) == 2
    assert "--n" in capsys.readouterr().err
    assert main(["bench", "stacks", "--types", "steps", "--out", str(out)]) == 2


def test_openfocus_call_keeps_torch_threads(monkeypatch):
    """openfocus's networks set torch's process-wide thread count; the bench restores it after each call."""
    import sys
    import types

    import torch

    fake = types.ModuleType("core.multi_focus_fusion")

    def fuse_images(frames, algorithm, use_gpu):  # noqa: ARG001
        torch.set_num_threads(1)
        return frames[0]

    fake.fuse_images = fuse_images
    monkeypatch.setitem(sys.modules, "core", types.ModuleType("core"))
    monkeypatch.setitem(sys.modules, "core.multi_focus_fusion", fake)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        s = focal_stack(3, size=(32, 32), seed=0)
        fused, _ = bs.run_method("openfocus:dct", s.frames)
        np.testing.assert_allclose(fused, s.frames[0], atol=1e-6)  # BGR / 0-255 round trip
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
