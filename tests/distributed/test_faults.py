"""A worker process killed by its pid mid-run: the run completes, every item once, no partial files."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest

from mfif.cli.main import main

pytest.importorskip("distributed", reason="the optional extra mfif[dask] is not installed")

from .conftest import focus_stack  # noqa: E402

N_ITEMS = 8


@pytest.mark.slow
def test_worker_killed_mid_run_every_item_exactly_once(tmp_path, capsys):
    from distributed import Client, LocalCluster

    from mfif.io import write_image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for k in range(N_ITEMS):
        a, b = focus_stack(2, (128, 144), seed=k)
        write_image(src / f"item{k:02d}_A.png", a)
        write_image(src / f"item{k:02d}_B.png", b)
    opts = ["--tta", "16", "--no-progress", "--maps"]  # the learned default at 16x compute: items take a while

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.CRITICAL)
    try:
        with Client(cluster, set_as_default=False) as client:
            pids = sorted(client.run(os.getpid).values())
        assert len(pids) == 2
        killed: dict[str, int] = {}

        def killer() -> None:  # kill one worker process as soon as the first item is finished
            t0 = time.monotonic()
            while time.monotonic() - t0 < 120:
                done = [p for p in out.glob("item*.png") if not p.name.endswith("_map.png")] if out.exists() else []
                if done:
                    killed["outputs_before"] = len(done)
                    os.kill(pids[0], signal.SIGKILL)
                    killed["pid"] = pids[0]
                    return
                time.sleep(0.01)

        th = threading.Thread(target=killer, daemon=True)
        th.start()
        code = main([str(x) for x in ["batch", src, out, *opts, "--engine", "dask", "--scheduler",
                                      cluster.scheduler_address]])
        th.join(5)
        text = capsys.readouterr().out
        with Client(cluster, set_as_default=False) as client:
            after = set(client.run(os.getpid).values())
    finally:
        cluster.close()

    assert killed.get("pid") == pids[0] and killed["outputs_before"] < N_ITEMS  # killed mid-run
    assert pids[0] not in after  # the process really died (the nanny started a new one)
    assert code == 0
    assert f"batch: {N_ITEMS} item(s): {N_ITEMS} fused, 0 already done (skipped), 0 failed" in text
    names = sorted(p.name for p in out.rglob("*"))
    assert names == sorted([f"item{k:02d}.png" for k in range(N_ITEMS)] + [f"item{k:02d}_map.png" for k in range(N_ITEMS)])
    # every output is complete: equal to the local engine's
    ref = tmp_path / "ref"
    assert main([str(x) for x in ["batch", src, ref, *opts]]) == 0
    for p in out.iterdir():
        assert p.read_bytes() == (ref / p.name).read_bytes(), p.name
