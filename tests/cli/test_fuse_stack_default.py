"""`mfif fuse` on stacks: the stack model is the default for N > 2, frames reach it as stored (8/16 bits)."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.cli.main import main
from mfif.data.stacks import focal_stack
from mfif.fusion.stack_native import has_stack_weights
from mfif.io import read_image, write_image

pytestmark = pytest.mark.skipif(not has_stack_weights(), reason="mfif-stack weights not installed")


@pytest.fixture
def stack_files(tmp_path):  # noqa: ANN001, ANN201
    st = focal_stack(4, size=(40, 48), depth_type="layers", seed=2)
    return [write_image(tmp_path / f"z{k + 1}.png", f) for k, f in enumerate(st.frames)]


def run(argv, capsys):  # noqa: ANN001, ANN201
    code = main([str(x) for x in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_the_stack_model_is_the_default_for_stacks(tmp_path, stack_files, capsys) -> None:  # noqa: ANN001
    code, out, err = run(["fuse", *stack_files, "-o", tmp_path / "f.png", "--depth-map", tmp_path / "d.png"], capsys)
    assert code == 0, err
    assert "with mfif-stack" in err and "fused 4 frames" in err
    assert str(tmp_path / "f.png") in out and str(tmp_path / "d.png") in out
    img, info = read_image(tmp_path / "f.png")
    assert img.shape == (40, 48, 3) and info.bit_depth == 8
    # the same frames through the API as float32 give the same image (8-bit output), at the CLI's amp
    # default ("auto": bf16 on CPUs with native bf16, so the API's float32 default may differ there)
    import mfif
    from mfif.options import AMP_DEFAULTS

    frames = [read_image(p)[0] for p in stack_files]
    ref = mfif.fuse(frames, method="mfif-stack", amp=AMP_DEFAULTS["cli"])
    assert np.abs(np.round(ref.fused * 255) - np.round(img * 255)).max() <= 1


def test_pair_strategy_options_select_the_pair_model(tmp_path, stack_files, capsys) -> None:  # noqa: ANN001
    code, _, err = run(["fuse", *stack_files, "-o", tmp_path / "f.png", "--stack-strategy", "sequential"], capsys)
    assert code == 0, err
    assert "with mfif-gan-lite" in err


def test_pair_only_options_are_refused_for_the_stack_model(tmp_path, stack_files, capsys) -> None:  # noqa: ANN001
    code, _, err = run(["fuse", *stack_files, "-o", tmp_path / "f.png", "--method", "mfif-stack", "--tile", "64"],
                       capsys)
    assert code == 2 and "does not take --tile" in err and "Traceback" not in err
    assert not (tmp_path / "f.png").exists()


def test_sixteen_bit_frames_are_kept_as_sixteen_bits(tmp_path, capsys) -> None:  # noqa: ANN001
    from mfif.cli.fuse import load_sources

    st = focal_stack(3, size=(32, 32), seed=5)
    paths = [write_image(tmp_path / f"s{k}.png", f, bit_depth=16) for k, f in enumerate(st.frames)]
    imgs, infos, _ = load_sources(paths, native=True)
    assert all(im.dtype == np.uint16 for im in imgs) and infos[0].bit_depth == 16
    code, _, err = run(["fuse", *paths, "-o", tmp_path / "f.png"], capsys)
    assert code == 0, err
    assert read_image(tmp_path / "f.png")[1].bit_depth == 16


def test_a_pair_model_weights_file_selects_the_pair_model(tmp_path, stack_files, capsys) -> None:  # noqa: ANN001
    import torch

    from mfif.models import Generator
    from mfif.models.weights import save_generator

    torch.manual_seed(0)
    w = save_generator(Generator(width=4, n_blocks=1, input_mode="gray").eval(), tmp_path / "pair.safetensors")[0]
    code, _, err = run(["fuse", *stack_files, "-o", tmp_path / "f.png", "--weights", w, "--device", "cpu"], capsys)
    assert code == 0, err
    assert "with mfif-gan-lite" in err
