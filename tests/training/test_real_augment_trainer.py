"""The trainer with the real-photo augmentations: JPEG inputs reach the network, the image loss and the
validation stay clean, and pair augmentations keep the loader's synthesis."""

from __future__ import annotations

import torch

import pytest

from mfif.errors import MfifError
from mfif.training.config import load_config
from mfif.training.trainer import Trainer


def _batch(tr: Trainer, step: int = 0) -> dict:
    items = [tr.train_set[i] for i in tr.plan.items(step)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_jpeg_inputs_reach_the_network_and_the_image_loss_composes_clean_sources(tmp_path, source):
    base = ["device=cpu", "val_count=2", "gan=none", "image_weight=5", "steps=2", "val_every=2"]
    cfg = load_config("tiny", [*base, "jpeg_p=1", "jpeg_quality=[20, 30]", "disk_p=0.5", "scale=[0.7, 1]",
                               "small_regions_p=1", "swap_p=0.5"])
    tr = Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    assert not tr.gpu_synthesis
    batch = _batch(tr, 0)
    assert "a_in" in batch and not torch.allclose(batch["a_in"], batch["a"], atol=1e-3)
    seen = {}
    real = tr.generator_step

    def spy(x, y, target, **kw):
        seen["inputs"], seen["clean"] = (x, y), kw.get("clean")
        return real(x, y, target, **kw)

    tr.generator_step = spy
    out = tr.iteration(batch)
    assert torch.isfinite(torch.tensor(out["loss_g"]))
    assert torch.equal(seen["inputs"][0], batch["a_in"]) and torch.equal(seen["clean"][0], batch["a"])
    # validation pairs are the clean ones of a run without augmentation
    plain = Trainer(load_config("tiny", base), tmp_path / "plain", source=source, log=lambda s: None)
    for vb, pb in zip(tr.val_batches, plain.val_batches):
        assert set(vb) == set(pb) and all(torch.equal(vb[k], pb[k]) for k in vb)
    tr.generator_step = real
    res = tr.train()
    assert (tmp_path / "run" / "final").is_dir() and res


def test_without_augmentations_the_batches_are_unchanged(tmp_path, source):
    base = ["device=cpu", "val_count=0", "gan=none"]
    t0 = Trainer(load_config("tiny", base), tmp_path / "a", source=source, log=lambda s: None)
    t1 = Trainer(load_config("tiny", [*base, "scale=1", "jpeg_p=0", "disk_p=0", "swap_p=0", "small_regions_p=0"]),
                 tmp_path / "b", source=source, log=lambda s: None)
    b0, b1 = _batch(t0, 1), _batch(t1, 1)
    assert set(b0) == set(b1) and "a_in" not in b0 and all(torch.equal(b0[k], b1[k]) for k in b0)


def test_pair_augmentations_refuse_gpu_synthesis(tmp_path, source):
    cfg = load_config("tiny", ["device=cpu", "val_count=0", "gpu_synthesis=true", "jpeg_p=0.5"])
    with pytest.raises(MfifError, match="gpu_synthesis"):
        Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    assert not (tmp_path / "run").exists()
    # scale and small regions act on the image and mask: they work with GPU-style synthesis
    ok = load_config("tiny", ["device=cpu", "val_count=0", "gpu_synthesis=true", "scale=[0.8, 1]",
                              "small_regions_p=1"])
    tr = Trainer(ok, tmp_path / "ok", source=source, log=lambda s: None)
    assert tr.gpu_synthesis and "a" not in tr.train_set[0]
