"""``mfif batch --engine dask``: bit-identical to the local engine, resume, bad items, errors.

Every comparison runs the local engine on the same folder in the same test, so no output is hard-coded.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from mfif.cli.main import main

pytest.importorskip("distributed", reason="the optional extra mfif[dask] is not installed")

from .conftest import write_batch_folder  # noqa: E402


def run(argv, capsys):
    code = main([str(x) for x in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def untimed(text: str) -> str:
    return re.sub(r"\d+(\.\d+)? ?s\b", "T", text)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def in_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch") / "in"
    write_batch_folder(d)
    (d / "broken_A.png").write_bytes(b"not an image")  # a bad item: fails alone
    (d / "broken_B.png").write_bytes(b"not an image either")
    return d


@pytest.mark.slow
@pytest.mark.parametrize("method", [None, "laplacian-argmax"], ids=["default-learned", "laplacian-argmax"])
def test_dask_outputs_equal_local_bit_for_bit(in_dir, tmp_path, capsys, cluster_address, method):
    # laplacian-argmax has no focus map for a 3-frame stack, so --maps only with the learned default
    opts = ["--no-progress", "--depth-maps", "--quiet"] + (["--method", method] if method else ["--maps"])
    code_l, out_l, err_l = run(["batch", in_dir, tmp_path / "local", *opts], capsys)
    code_d, out_d, err_d = run(["batch", in_dir, tmp_path / "dask", *opts, "--engine", "dask",
                                "--scheduler", cluster_address], capsys)
    assert code_l == code_d == 1  # the broken item
    assert untimed(out_d) == untimed(out_l)  # the same final report, word for word (times aside)
    assert "FAILED broken:" in out_d and "6 fused" in out_d
    assert "mfif: error: broken:" in err_d
    if method is None:  # the plugin is on every worker, and each worker loaded the weights once
        from distributed import Client

        def loads(dask_worker):  # noqa: ANN001
            from mfif.fusion import methods, stack_native

            # the 3-frame items use the stack default (mfif-stack); each model is loaded at most once
            caches = (getattr(methods, "_cached", None), getattr(stack_native, "_cached", None))
            misses = [c.cache_info().misses for c in caches if hasattr(c, "cache_info")]
            return "mfif-model" in dask_worker.plugins, (max(misses) if misses else None)

        with Client(cluster_address, set_as_default=False) as client:
            state = client.run(loads)
        assert len(state) == 2
        for has_plugin, misses in state.values():
            assert has_plugin
            assert misses in (1, None)
    loc, dsk = files(tmp_path / "local"), files(tmp_path / "dask")
    assert len(loc) == 6 * (2 if method else 3)  # fused + depth (+ map) per item
    assert dsk.keys() == loc.keys()
    for k in loc:
        assert dsk[k] == loc[k], k


@pytest.mark.slow
def test_resume_skips_done_items_and_leaves_no_work_files(in_dir, tmp_path, capsys, cluster_address):
    dask = ["--engine", "dask", "--scheduler", cluster_address, "--method", "laplacian-argmax", "--no-progress"]
    out = tmp_path / "out"
    code, text, _ = run(["batch", in_dir, out, *dask], capsys)
    assert code == 1 and "6 fused, 0 already done" in text
    first = files(out)
    (out / "pair1.png").unlink()
    (out / "scene.png").unlink()
    (out / ".mfif-dask-0123456789ab" / "3").mkdir(parents=True)  # left by an interrupted run
    (out / ".mfif-dask-0123456789ab" / "3" / "pair1.png").write_bytes(b"partial")
    before = (out / "pair0.png").stat().st_mtime_ns
    code, text, err = run(["batch", in_dir, out, *dask], capsys)
    assert "2 fused, 4 already done (skipped), 1 failed" in text
    assert "removed 1 work folder(s) of an interrupted Dask run" in err
    assert (out / "pair0.png").stat().st_mtime_ns == before  # skipped, not rewritten
    assert files(out) == first
    code, text, _ = run(["batch", in_dir, out, *dask, "--overwrite"], capsys)
    assert "6 fused, 0 already done" in text and files(out) == first
    assert not [p for p in out.rglob(".mfif*")]  # no work folders or temporary files left


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2], ids=["in-process-worker", "2-worker-processes"])
def test_embedded_local_cluster_with_jobs(in_dir, tmp_path, capsys, jobs):
    opts = ["--method", "laplacian-argmax", "--no-progress"]
    run(["batch", in_dir, tmp_path / "local", *opts], capsys)
    code, text, _ = run(["batch", in_dir, tmp_path / "dask", *opts, "--engine", "dask", "--jobs", str(jobs)], capsys)
    assert code == 1 and "6 fused" in text
    assert files(tmp_path / "dask") == files(tmp_path / "local")


def test_unreachable_scheduler_is_one_clear_error(in_dir, tmp_path, capsys):
    t0 = time.monotonic()
    code, out, err = run(["batch", in_dir, tmp_path / "out", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9",
                          "--connect-timeout", "1", "--method", "laplacian-argmax"], capsys)
    assert code == 2
    assert time.monotonic() - t0 < 30
    lines = err.strip().splitlines()
    assert lines == [l for l in lines if l.startswith("mfif: ")]  # no traceback
    assert any("--scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler" in l for l in lines)
    assert not list((tmp_path / "out").rglob("*.png")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize(
    "extra, needle",
    [(["--jobs", "2"], "--jobs applies to --engine dask"),
     (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler applies to --engine dask"),
     (["--engine", "dask", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:9"], "--jobs sizes the embedded cluster"),
     (["--engine", "dask", "--jobs", "0"], "--jobs 0: must be >= 1")],
)
def test_engine_option_errors(in_dir, tmp_path, capsys, extra, needle):
    code, _, err = run(["batch", in_dir, tmp_path / "out", "--method", "laplacian-argmax", *extra], capsys)
    assert code == 2 and needle in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_extra_names_it(in_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    code, _, err = run(["batch", in_dir, tmp_path / "out", "--method", "laplacian-argmax", "--engine", "dask"], capsys)
    assert code == 2 and "pip install 'mfif[dask]'" in err
