import torch
import pytest

from mfif.errors import MfifError
from mfif.models import Generator
from mfif.models.weights import load_generator, read_state, save_generator


def test_round_trip_sharded_fp16(tmp_path):
    torch.manual_seed(0)
    g = Generator(width=8, n_blocks=2).eval()
    files = save_generator(g, tmp_path / "m.safetensors", shard_mib=0.1)
    assert len(files) > 1
    assert all(f.stat().st_size <= 0.1 * 1024 * 1024 for f in files)
    g2 = load_generator(files[0])
    assert g2.config == g.config
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(g(x, x), g2(x, x), atol=2e-3, rtol=0)
    g3 = load_generator(tmp_path)  # folder
    assert g3.config.width == 8


def test_wrong_shape_is_clear_error(tmp_path):
    g = Generator(width=8, n_blocks=2)
    files = save_generator(g, tmp_path / "m.safetensors")
    from mfif.models.generator import GeneratorConfig

    with pytest.raises(MfifError, match="do not fit"):
        load_generator(files[0], config=GeneratorConfig(width=16, n_blocks=2))


def test_not_safetensors_is_clear_error(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"\x80\x04this is a pickle, not safetensors")
    with pytest.raises(MfifError, match="not a valid safetensors"):
        read_state(bad)
    with pytest.raises(MfifError, match="not found"):
        load_generator(tmp_path / "missing.safetensors")


def test_no_installed_weights_message(tmp_path, monkeypatch):
    import mfif.models.weights as w

    monkeypatch.setattr(w, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(MfifError, match="--weights"):
        load_generator(None, name="mfif-gan")
