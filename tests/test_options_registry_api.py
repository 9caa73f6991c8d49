"""The declared option set (mfif.options), the registry's one check (mfif.registry.check_options), the
Python API (mfif.api) and `mfif methods`."""

from __future__ import annotations

import numpy as np
import pytest

import mfif
from mfif.cli.main import main
from mfif.errors import MfifError
from mfif.options import (
    COMPOSE_FIELDS,
    INFERENCE_FIELDS,
    LEARNED_OPTIONS,
    ComposeOptions,
    InferenceOptions,
    cli_options,
    split_options,
)
from mfif.registry import check_options, get_method, list_methods


def _pair(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random((24, 28, 3), dtype=np.float32)
    b = rng.random((24, 28, 3), dtype=np.float32)
    return [a, b]


def test_inference_options_normalise_and_refuse() -> None:
    assert InferenceOptions(tta=True).tta == 4
    assert InferenceOptions(tta=False).tta == InferenceOptions(tta=0).tta == InferenceOptions(tta=None).tta == 1
    assert InferenceOptions(tta=np.int64(16)).tta == 16
    assert InferenceOptions(tile=0).tile is None
    for bad in ({"tta": 3}, {"tta": "x"}, {"amp": "yes"}, {"tile": 8}, {"tile_overlap": -4},
                {"tile": 64, "tta": 2}):
        with pytest.raises(MfifError):
            InferenceOptions(**bad)


def test_compose_options_refuse_and_name_pair_only_ones() -> None:
    for bad in ({"soft": True, "soft_boundary": 2.0}, {"soft_boundary": -1.0}, {"edge_guide": "c"},
                {"soft": True, "soft_gain": 0.0}, {"min_region_ratio": 1.5}, {"connectivity": 3}):
        with pytest.raises(MfifError):
            ComposeOptions(**bad)
    assert ComposeOptions().pair_only == []
    assert ComposeOptions(soft=True, edge_guide="a", spread_correction=True).pair_only == [
        "soft", "edge_guide", "spread_correction"]


def test_split_options_treats_none_as_not_given() -> None:
    inf, comp, rest = split_options({"tta": 2, "soft": True, "tile": None, "weights": "w", "edge_guide": None})
    assert inf == InferenceOptions(tta=2) and comp == ComposeOptions(soft=True) and rest == {"weights": "w"}


def test_every_cli_flag_is_a_declared_field_and_unique() -> None:
    names = [n for n, _ in cli_options()]
    flags = [m["flag"] for _, m in cli_options()]
    assert set(names) <= set(INFERENCE_FIELDS) | set(COMPOSE_FIELDS)
    assert len(set(flags)) == len(flags)


def test_registry_declares_options_of_every_method() -> None:
    for info in list_methods():
        if info.name.startswith("_"):
            continue
        if info.name == "mfif-stack":  # one pass per frame: no pair composition, no tiling, no strategy
            assert info.options == {"weights", "device", "amp", "channels_last", "tta", "temperature",
                                    "min_region_ratio", "connectivity", "postprocess", "progress"}
        elif info.needs_weights and info.fn.__module__.startswith("mfif.baselines."):  # the paper's learned comparisons
            assert {"weights", "device"} <= info.options, info.name
        elif info.needs_weights:
            assert info.options == LEARNED_OPTIONS, info.name
        else:
            assert not info.options & {"device", "amp", "tta", "soft", "spread_correction", "tile_overlap"}, info.name
    assert get_method("laplacian-argmax").options == {"window", "median_size"}


def test_check_options_is_one_error_for_every_front() -> None:
    gff = get_method("gff")
    with pytest.raises(MfifError, match=r"does not take spread_correction .*learned"):
        check_options(gff, {"spread_correction": True})
    with pytest.raises(MfifError, match=r"--tile-overlap"):
        check_options(gff, {"tile_overlap": 8}, cli=True)
    check_options(gff, {"tile": None, "spread_correction": None})  # None = not given
    lite = get_method("mfif-gan-lite")
    with pytest.raises(MfifError, match="soft: for two sources only"):
        check_options(lite, {"soft": True}, n_sources=3)
    check_options(lite, {"soft": True, "spread_correction": False}, n_sources=2)


def test_api_refuses_options_a_method_does_not_take_with_mfif_error() -> None:
    # classical methods used to raise TypeError here, learned ones MfifError
    with pytest.raises(MfifError, match="does not take nonsense"):
        mfif.fuse(_pair(), method="gff", nonsense=1)
    with pytest.raises(MfifError, match="does not take nonsense"):
        mfif.fuse(_pair(), method="mfif-gan-lite", nonsense=1)
    with pytest.raises(MfifError, match="does not take device"):
        mfif.fuse(_pair(), method="gff", device="cpu")
    with pytest.raises(MfifError, match="unknown fusion method"):
        mfif.fuse(_pair(), method="no-such-method")


def test_api_fuses_with_declared_options() -> None:
    srcs = _pair(1)
    r1 = mfif.fuse(srcs, method="laplacian-argmax", window=3)
    r2 = mfif.fuse(srcs, method="laplacian-argmax", window=3, median_size=None)  # None = default
    assert np.array_equal(r1.fused, r2.fused) and r1.extras["method"] == "laplacian-argmax"
    r3 = mfif.fuse(srcs, method="mfif-gan-lite", device="cpu", tta=2, soft=True)
    assert r3.fused.shape == srcs[0].shape and r3.focus_map.shape == srcs[0].shape[:2]
    gray = [s.mean(axis=2) for s in srcs]
    assert mfif.fuse(gray, method="gff").fused.shape == gray[0].shape


@pytest.mark.parametrize("flag", [["--spread-correction"], ["--tile-overlap", "8"], ["--tta", "2"], ["--soft"],
                                  ["--device", "cpu"], ["--no-postprocess"], ["--edge-guide", "a"]])
def test_cli_refuses_learned_flags_for_a_classical_method(tmp_path, capsys, flag) -> None:
    from mfif.io import write_image

    srcs = _pair(2)
    paths = []
    for i, s in enumerate(srcs):
        paths.append(str(tmp_path / f"{i}.png"))
        write_image(paths[-1], s)
    out = tmp_path / "f.png"
    code = main(["fuse", *paths, "-o", str(out), "--method", "gff", *flag])
    err = capsys.readouterr().err
    assert code == 2 and flag[0].replace("--no-", "--") in err and "gff" in err and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_methods_command_lists_every_method_and_the_default(capsys) -> None:
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for info in list_methods():
        if not info.name.startswith("_"):
            assert info.name in out
    starred = [ln.split()[1] for ln in out.splitlines() if ln.startswith("*")]
    from mfif.fusion.methods import default_method

    assert starred == [default_method()]


def test_stack_progress_counts_every_pair_fusion() -> None:
    from mfif.data.stacks import synthetic_stack

    srcs, _, _ = synthetic_stack(4, size=(32, 36), seed=1)
    for method, kw, total in (("mfif-gan-lite", {"device": "cpu"}, 6),
                              ("mfif-gan-lite", {"device": "cpu", "stack_strategy": "sequential"}, 3)):
        seen: list[tuple[int, int]] = []
        mfif.fuse(srcs, method=method, progress=lambda d, t: seen.append((d, t)), **kw)
        assert seen == [(k, total) for k in range(1, total + 1)]
    seen = []
    mfif.fuse(srcs, method="gff", progress=lambda d, t: seen.append((d, t)))  # one call: nothing to report
    assert seen == []
