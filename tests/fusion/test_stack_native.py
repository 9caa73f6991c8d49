"""Stack-native fusion (mfif.fusion.stack_native, method ``mfif-stack``) with a tiny seeded network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import mfif
from mfif.data.stacks import focal_stack
from mfif.errors import MfifError
from mfif.options import ComposeOptions
from mfif.fusion.stack_native import fuse_stack_native, load_stack_net
from mfif.models.stack_net import StackNet, StackNetConfig, stack_softmax_fusion
from mfif.training.stack_trainer import save_stack_net


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    net = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    with torch.no_grad():  # make the scores spread (a fresh decoder is nearly flat)
        net.decoder.net[-1].weight.mul_(20.0)
    return save_stack_net(net, tmp_path_factory.mktemp("w") / "tiny.safetensors")


@pytest.fixture(scope="module")
def stack():  # noqa: ANN201
    return focal_stack(5, size=(36, 44), depth_type="layers", seed=4)


def test_streaming_equals_the_batch_softmax(weights: Path, stack) -> None:  # noqa: ANN001
    model = load_stack_net(str(weights))
    res = fuse_stack_native(model, stack.frames, device="cpu", temperature=0.5,
                            compose_options=ComposeOptions(postprocess=False))
    fr = torch.from_numpy(np.stack(stack.frames)).permute(0, 3, 1, 2)
    with torch.no_grad():
        z = model(fr)[:, 0]
        fused, w = stack_softmax_fusion(z[None], fr[None], temperature=0.5)
    np.testing.assert_allclose(res.fused, fused[0].permute(1, 2, 0).numpy(), atol=2e-5)
    assert np.array_equal(res.depth_map, z.argmax(dim=0).numpy())
    np.testing.assert_allclose(res.focus_map, w[0, 0].numpy(), atol=2e-5)
    assert len(np.unique(res.depth_map)) > 1


def test_eight_and_sixteen_bit_frames_give_the_float_result(weights: Path, stack) -> None:  # noqa: ANN001
    model = load_stack_net(str(weights))
    u8 = [np.rint(f * 255).astype(np.uint8) for f in stack.frames]
    u16 = [f.astype(np.uint16) * 257 for f in u8]
    a = fuse_stack_native(model, [f.astype(np.float32) / 255 for f in u8], device="cpu")
    b = fuse_stack_native(model, u8, device="cpu")
    c = fuse_stack_native(model, u16, device="cpu")
    np.testing.assert_allclose(b.fused, a.fused, atol=1e-6)
    np.testing.assert_allclose(c.fused, a.fused, atol=1e-6)
    assert np.array_equal(a.depth_map, b.depth_map)


def test_frame_order_does_not_matter(weights: Path, stack) -> None:  # noqa: ANN001
    model = load_stack_net(str(weights))
    perm = [3, 0, 4, 2, 1]
    kw = dict(device="cpu", compose_options=ComposeOptions(postprocess=False))
    a = fuse_stack_native(model, stack.frames, **kw)
    b = fuse_stack_native(model, [stack.frames[p] for p in perm], **kw)
    np.testing.assert_allclose(a.fused, b.fused, atol=2e-5)
    assert np.array_equal(np.asarray(perm)[b.depth_map], a.depth_map)


class _Counting:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.reads = frames, 0

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, k: int) -> np.ndarray:
        self.reads += 1
        return self.frames[k]


def test_the_api_streams_each_frame_once(weights: Path, stack) -> None:  # noqa: ANN001
    from collections.abc import Sequence

    Sequence.register(_Counting)
    lazy = _Counting([np.rint(f * 255).astype(np.uint8) for f in stack.frames])
    seen = []
    res = mfif.fuse(lazy, method="mfif-stack", weights=str(weights), progress=lambda d, t: seen.append((d, t)))
    assert lazy.reads == 5
    assert seen == [(k, 5) for k in range(1, 6)]
    assert res.fused.shape == stack.truth.shape and res.extras["method"] == "mfif-stack"
    # the same frames as floats through the ordinary path agree
    ref = mfif.fuse([f.astype(np.float32) / 255 for f in lazy.frames], method="mfif-stack", weights=str(weights))
    np.testing.assert_allclose(res.fused, ref.fused, atol=1e-6)


def test_bad_input_is_one_error(weights: Path, stack) -> None:  # noqa: ANN001
    model = load_stack_net(str(weights))
    frames = list(stack.frames)
    frames[2] = frames[2][:30]
    with pytest.raises(MfifError, match=r"z3\.png: size 44x30 differs from z1\.png.*--align"):
        fuse_stack_native(model, frames, device="cpu", names=[f"z{i + 1}.png" for i in range(5)])
    with pytest.raises(MfifError, match="at least two"):
        fuse_stack_native(model, frames[:1], device="cpu")
    with pytest.raises(MfifError, match="does not take"):
        mfif.fuse(stack.frames, method="mfif-stack", weights=str(weights), soft=True)
    with pytest.raises(MfifError, match="not a stack-model weights file"):
        from mfif.models.generator import Generator
        from mfif.models.weights import save_generator

        p = weights.parent / "pair.safetensors"
        save_generator(Generator(width=2, n_blocks=1, input_mode="gray"), p)
        load_stack_net(str(p))


def test_aligned_streaming_equals_aligning_first(weights: Path) -> None:
    from mfif.fusion.align import align_stack

    st = focal_stack(4, size=(64, 64), depth_type="tilted", breathing=0.03, seed=6)
    u8 = [np.rint(f * 255).astype(np.uint8) for f in st.frames]
    res = mfif.fuse(u8, method="mfif-stack", weights=str(weights), align="ecc")
    model = load_stack_net(str(weights))
    ref = fuse_stack_native(model, align_stack([f.astype(np.float32) / 255 for f in u8], method="ecc"), device="cpu")
    np.testing.assert_allclose(res.fused, ref.fused, atol=1e-5)
    assert np.array_equal(res.depth_map, ref.depth_map)


def test_a_depth_head_sets_the_depth_map_and_leaves_the_fusion_alone(tmp_path: Path, stack) -> None:  # noqa: ANN001
    torch.manual_seed(5)
    plain = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    with torch.no_grad():
        plain.decoder.net[-1].weight.mul_(20.0)
    headed = StackNet(StackNetConfig(width=2, n_blocks=1, depth_head=True)).eval()
    headed.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():  # a depth decoder that disagrees with the fusion decoder
        headed.depth_decoder.net[-1].weight.mul_(20.0)
    back = load_stack_net(str(save_stack_net(headed, tmp_path / "h.safetensors")))
    assert back.config.depth_head
    off = ComposeOptions(postprocess=False)
    a = fuse_stack_native(plain, stack.frames, device="cpu", compose_options=off)
    b = fuse_stack_native(back, stack.frames, device="cpu", compose_options=off)
    np.testing.assert_allclose(b.fused, a.fused, atol=2e-3)  # the fp16 file against the float32 model
    fr = torch.from_numpy(np.stack(stack.frames)).permute(0, 3, 1, 2)
    with torch.no_grad():
        d = back(fr)[:, 1]
    assert np.array_equal(b.depth_map, d.argmax(dim=0).numpy())
    assert not np.array_equal(b.depth_map, a.depth_map)
    # the same through the registry, frames read in reverse: the depth map follows the frame indices
    rev = fuse_stack_native(back, stack.frames[::-1], device="cpu", compose_options=off)
    assert np.mean(rev.depth_map == len(stack.frames) - 1 - b.depth_map) > 0.99
