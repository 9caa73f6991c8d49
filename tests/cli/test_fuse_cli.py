"""CLI behaviour on good and bad input: one-line errors, exit code 2, no output left behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfif.cli.main import main
from mfif.io import read_image, write_image
from mfif.models import Generator
from mfif.models.weights import save_generator


@pytest.fixture
def pair_files(tmp_path, textured_pair):
    a, b, _, _ = textured_pair
    pa = write_image(tmp_path / "a.png", a)
    pb = write_image(tmp_path / "b.png", b)
    return pa, pb


@pytest.fixture
def tiny_weights(tmp_path):
    torch.manual_seed(0)
    return save_generator(Generator(width=4, n_blocks=1).eval(), tmp_path / "tiny.safetensors")[0]


def run(argv, capsys):
    code = main([str(x) for x in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_version(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("mfif ")


def test_fuse_with_weights_writes_output_and_map(tmp_path, pair_files, tiny_weights, capsys):
    out = tmp_path / "f.png"
    code, _, err = run(["fuse", *pair_files, "-o", out, "--method", "mfif-gan", "--weights", tiny_weights,
                        "--device", "cpu", "--map", tmp_path / "m.png"], capsys)
    assert code == 0, err
    img, info = read_image(out)
    assert img.shape == (64, 64, 3) and info.bit_depth == 8
    m, _ = read_image(tmp_path / "m.png")
    assert set(np.unique(m)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "case",
    ["missing", "truncated", "size", "tiny", "outdir", "badweights", "wrongshape", "unknown-method"],
)
def test_bad_input_one_line_exit_2(case, tmp_path, pair_files, tiny_weights, capsys, textured_pair):
    pa, pb = pair_files
    out = tmp_path / "out.png"
    extra = ["--method", "mfif-gan", "--weights", tiny_weights, "--device", "cpu"]
    if case == "missing":
        args = [tmp_path / "nope.png", pb, "-o", out, *extra]
        needle = "nope.png"
    elif case == "truncated":
        t = tmp_path / "t.jpg"
        write_image(tmp_path / "full.jpg", textured_pair[0])
        t.write_bytes((tmp_path / "full.jpg").read_bytes()[:200])
        args = [t, pb, "-o", out, *extra]
        needle = "t.jpg"
    elif case == "size":
        s = write_image(tmp_path / "small.png", textured_pair[0][:40])
        args = [pa, s, "-o", out, *extra]
        needle = "small.png"
    elif case == "tiny":
        s1 = write_image(tmp_path / "s1.png", textured_pair[0][:5, :5])
        s2 = write_image(tmp_path / "s2.png", textured_pair[1][:5, :5])
        args = [s1, s2, "-o", out, *extra]
        needle = "8x8"
    elif case == "outdir":
        out = tmp_path / "no" / "such" / "dir" / "f.png"
        args = [pa, pb, "-o", out, *extra]
        needle = "does not exist"
    elif case == "badweights":
        w = tmp_path / "bad.safetensors"
        w.write_bytes(b"garbage" * 10)
        args = [pa, pb, "-o", out, "--method", "mfif-gan", "--weights", w, "--device", "cpu"]
        needle = "bad.safetensors"
    elif case == "wrongshape":
        from safetensors.torch import save_file

        w = tmp_path / "ws.safetensors"
        save_file({"branch.net.0.weight": torch.zeros(3, 3)}, str(w))
        args = [pa, pb, "-o", out, "--method", "mfif-gan", "--weights", w, "--device", "cpu"]
        needle = "ws.safetensors"
    else:
        args = [pa, pb, "-o", out, "--method", "no-such-method"]
        needle = "no-such-method"
    code, _, err = run(["fuse", *args], capsys)
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("mfif: error")]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".mfif-*"))


def test_mixed_depth_gray_rgb_and_alpha_are_converted(tmp_path, textured_pair, tiny_weights, capsys):
    a, b, _, _ = textured_pair
    pa = write_image(tmp_path / "a16.png", a, bit_depth=16)  # 16-bit RGB
    pb = write_image(tmp_path / "b8.png", b[..., 1])  # 8-bit gray
    from PIL import Image

    rgba = np.concatenate([np.round(b * 255).astype(np.uint8), np.full((64, 64, 1), 255, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "b_alpha.png")
    out = tmp_path / "f.png"
    code, _, err = run(["fuse", pa, pb, "-o", out, "--method", "mfif-gan", "--weights", tiny_weights, "--device", "cpu"], capsys)
    assert code == 0, err
    img, info = read_image(out)
    assert info.bit_depth == 16 and img.shape == (64, 64, 3)
    code, _, err = run(["fuse", pa, tmp_path / "b_alpha.png", "-o", tmp_path / "g.png", "--method", "mfif-gan",
                        "--weights", tiny_weights, "--device", "cpu"], capsys)
    assert code == 0 and "alpha" in err


def test_output_equal_to_input_refused(tmp_path, pair_files, tiny_weights, capsys):
    pa, pb = pair_files
    before = pa.read_bytes()
    code, _, err = run(["fuse", pa, pb, "-o", pa, "--method", "mfif-gan", "--weights", tiny_weights], capsys)
    assert code == 2 and "refusing" in err
    assert pa.read_bytes() == before


def test_soft_boundary_option(tmp_path, pair_files, tiny_weights, capsys):
    base = ["fuse", *pair_files, "--method", "mfif-gan", "--weights", tiny_weights, "--device", "cpu"]
    code, _, err = run([*base, "-o", tmp_path / "s.png", "--soft-boundary", "3"], capsys)
    assert code == 0, err
    code, _, err = run([*base, "-o", tmp_path / "n.png", "--soft-boundary", "-1"], capsys)
    assert code == 2 and "--soft-boundary" in err and not (tmp_path / "n.png").exists()
    code, _, err = run(["fuse", *pair_files, "-o", tmp_path / "g.png", "--method", "gff", "--soft-boundary", "2"], capsys)
    assert code == 2 and "learned methods" in err


def test_tta_and_soft_options(tmp_path, pair_files, tiny_weights, capsys):
    base = ["fuse", *pair_files, "--method", "mfif-gan", "--weights", tiny_weights, "--device", "cpu"]
    for extra in (["--tta"], ["--tta", "16"], ["--soft"], ["--tta", "16", "--soft"]):
        out = tmp_path / f"o{len(extra)}{extra[-1].strip('-')}.png"
        code, _, err = run([*base, "-o", out, *extra], capsys)
        assert code == 0 and out.exists(), (extra, err)
    code, _, err = run([*base, "-o", tmp_path / "t.png", "--tta", "16", "--tile", "32"], capsys)
    assert code == 2 and "--tile" in err and not (tmp_path / "t.png").exists()
    code, _, err = run([*base, "-o", tmp_path / "x.png", "--soft", "--soft-boundary", "1"], capsys)
    assert code == 2 and "alternatives" in err and not (tmp_path / "x.png").exists()
    code, _, err = run(["fuse", *pair_files, "-o", tmp_path / "g.png", "--method", "gff", "--soft"], capsys)
    assert code == 2 and "--soft" in err and not (tmp_path / "g.png").exists()


def test_amp_option_default_auto_and_overrides(pair_files):
    import argparse

    from mfif.cli.fuse import add_fusion_options, fusion_kwargs
    from mfif.errors import MfifError

    p = argparse.ArgumentParser()
    add_fusion_options(p)
    base = ["--method", "mfif-gan"]
    assert fusion_kwargs(p.parse_args(base))["amp"] == "auto"  # CLI default: bf16 where native
    assert fusion_kwargs(p.parse_args([*base, "--amp"]))["amp"] is True
    assert fusion_kwargs(p.parse_args([*base, "--no-amp"]))["amp"] is False
    assert "amp" not in fusion_kwargs(p.parse_args(["--method", "gff"]))
    for flag in ("--amp", "--no-amp"):
        with pytest.raises(MfifError, match="learned methods"):
            fusion_kwargs(p.parse_args(["--method", "gff", flag]))


def test_edge_guide_option(tmp_path, pair_files, tiny_weights, capsys):
    base = ["fuse", *pair_files, "--method", "mfif-gan", "--weights", tiny_weights, "--device", "cpu"]
    code, _, err = run([*base, "-o", tmp_path / "e.png", "--edge-guide", "a", "--soft"], capsys)
    assert code == 0 and (tmp_path / "e.png").exists(), err
    code, _, err = run(["fuse", *pair_files, "-o", tmp_path / "g.png", "--method", "gff", "--edge-guide", "a"], capsys)
    assert code == 2 and "--edge-guide" in err and not (tmp_path / "g.png").exists()
