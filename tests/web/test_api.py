"""API tests of the web app (Starlette TestClient): every endpoint and every refusal."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


def _done_job(client, h, files):  # noqa: ANN001, ANN202
    r = h.post_job(client, files)
    assert r.status_code == 202, r.text
    st = h.wait_job(client, r.json()["id"])
    assert st["state"] == "done", st
    return st


def _bytes(paths: list[Path]) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in paths]


# ---------------------------------------------------------------- page and info


def test_page_static_and_headers(make_client):  # noqa: ANN001
    c = make_client()
    r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert c.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert c.get("/static/app.css").status_code == 200
    for bad in ("/static/index.html", "/static/..%2F__init__.py", "/static/../app.py", "/static/nope.js"):
        assert c.get(bad).status_code == 404, bad


def test_info_lists_methods_and_limits(make_client):  # noqa: ANN001
    from mfif.fusion.methods import default_method
    from mfif.registry import list_methods

    c = make_client(max_pixels=1234)
    info = c.get("/api/info").json()
    names = [m["name"] for m in info["methods"]]
    assert names == [m.name for m in list_methods() if not m.name.startswith("_")]
    assert info["default"] == default_method()
    assert {m["name"]: m["learned"] for m in info["methods"]}["mfif-gan-lite"] is True
    assert {m["name"]: m["learned"] for m in info["methods"]}["laplacian-argmax"] is False
    assert info["limits"]["max_pixels"] == 1234


# ---------------------------------------------------------------- jobs, views, downloads


def test_pair_job_downloads_equal_the_cli(make_client, helpers, pair_files, tmp_path):  # noqa: ANN001
    c = make_client()
    st = _done_job(c, helpers, _bytes(pair_files))
    assert (st["kind"], st["frames"], st["width"], st["height"], st["bit_depth"]) == ("pair", 2, 48, 40, 8)
    assert st["names"] == ["a.png", "b.png"] and st["method"] == helpers.METHOD
    jid = st["id"]
    cli = helpers.cli_fuse(pair_files, tmp_path / "cli.png", "--map", str(tmp_path / "map.png"),
                           "--depth-map", str(tmp_path / "depth.png"))
    d = c.get(f"/api/jobs/{jid}/download/fused.png")
    assert d.status_code == 200 and d.headers["content-type"] == "image/png"
    assert 'filename="mfif-fused.png"' in d.headers["content-disposition"]
    assert d.content == cli.read_bytes()  # same writer, same pixels: the same file
    tif = helpers.decode(c.get(f"/api/jobs/{jid}/download/fused.tif").content)
    assert np.array_equal(tif, helpers.decode(cli.read_bytes()))
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/download/decision-map.png").content),
                          helpers.decode((tmp_path / "map.png").read_bytes()))
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/download/depth-map.png").content),
                          helpers.decode((tmp_path / "depth.png").read_bytes()))
    assert c.get(f"/api/jobs/{jid}/download/focus-map.png").status_code == 200
    # views for the page: the fused image at 8 bits (= the CLI's 8-bit output), frames, raw index map
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/view/fused.png").content), helpers.decode(cli.read_bytes()))
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/view/result.png").content), helpers.decode(cli.read_bytes()))
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/view/frame-1.png").content),
                          helpers.decode(pair_files[1].read_bytes()))
    idx = helpers.decode(c.get(f"/api/jobs/{jid}/view/map.png").content)
    assert set(np.unique(idx)) <= {0, 1} and idx[:, :10].max() == 0 and idx[:, -10:].min() == 1  # A left, B right
    for bad in ("frame-2", "frame-99999", "nope", "..%2Fframes"):
        assert c.get(f"/api/jobs/{jid}/view/{bad}.png").status_code == 404, bad
    for bad in ("fused.jpg", "frames.npy", "..%2Ffused.npy", "meta.json"):
        assert c.get(f"/api/jobs/{jid}/download/{bad}").status_code == 404, bad


def test_sixteen_bit_is_kept(make_client, helpers, sources, tmp_path):  # noqa: ANN001
    paths = []
    for k, img in enumerate(sources(2)):
        p = tmp_path / f"s{k}.png"
        p.write_bytes(helpers.encode_png(img, bits=16))
        paths.append(p)
    c = make_client()
    st = _done_job(c, helpers, _bytes(paths))
    assert st["bit_depth"] == 16
    cli = helpers.cli_fuse(paths, tmp_path / "cli.png")
    png = helpers.decode(c.get(f"/api/jobs/{st['id']}/download/fused.png").content)
    tif = helpers.decode(c.get(f"/api/jobs/{st['id']}/download/fused.tif").content)
    ref = helpers.decode(cli.read_bytes())
    assert ref.dtype == np.uint16 and png.dtype == np.uint16 and tif.dtype == np.uint16
    assert np.array_equal(png, ref) and np.array_equal(tif, ref)
    assert c.get(f"/api/jobs/{st['id']}/download/fused.png").content == cli.read_bytes()
    assert helpers.decode(c.get(f"/api/jobs/{st['id']}/view/fused.png").content).dtype == np.uint8


def test_stack_job_and_depth_map(make_client, helpers, sources, tmp_path):  # noqa: ANN001
    paths = []
    for k, img in enumerate(sources(3)):
        p = tmp_path / f"f{k}.png"
        p.write_bytes(helpers.encode_png(img))
        paths.append(p)
    c = make_client()
    st = _done_job(c, helpers, _bytes(paths))
    assert st["kind"] == "stack" and "depth" in st["maps"] and "decision" not in st["maps"]
    cli = helpers.cli_fuse(paths, tmp_path / "cli.png", "--depth-map", str(tmp_path / "d.png"))
    assert c.get(f"/api/jobs/{st['id']}/download/fused.png").content == cli.read_bytes()
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{st['id']}/download/depth-map.png").content),
                          helpers.decode((tmp_path / "d.png").read_bytes()))
    assert c.get(f"/api/jobs/{st['id']}/download/decision-map.png").status_code == 404


def test_option_the_method_does_not_take_is_shown(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    r = helpers.post_job(c, _bytes(pair_files), tta="2")
    st = helpers.wait_job(c, r.json()["id"])
    assert st["state"] == "error" and "tta" in st["error"] and "\n" not in st["error"]
    assert c.get(f"/api/jobs/{st['id']}/download/fused.png").status_code == 409


def test_unreadable_image_error_names_the_upload(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    good = pair_files[0].read_bytes()
    broken = good[:60]  # a PNG signature and IHDR, then nothing
    r = helpers.post_job(c, [("a.png", good), ("broken.png", broken)])
    if r.status_code == 202:
        st = helpers.wait_job(c, r.json()["id"])
        assert st["state"] == "error" and "broken.png" in st["error"]
        assert "upload-" not in st["error"]  # the server's file name is not shown
    else:
        assert r.status_code == 415 and "broken.png" in r.json()["error"]


def test_size_mismatch_error(make_client, helpers, sources):  # noqa: ANN001
    c = make_client()
    a, b = sources(2)
    r = helpers.post_job(c, [("a.png", helpers.encode_png(a)), ("b.png", helpers.encode_png(b[:30]))])
    st = helpers.wait_job(c, r.json()["id"])
    assert st["state"] == "error" and "b.png" in st["error"] and "differs" in st["error"]


def test_client_file_names_never_become_paths(make_client, helpers, pair_files, tmp_path):  # noqa: ANN001
    c = make_client()
    store = c.mfif_store
    evil = ["../../../evil.png", "..\\..\\evil2.png\x00.txt"]
    r = helpers.post_job(c, [(evil[0], pair_files[0].read_bytes()), (evil[1], pair_files[1].read_bytes())])
    st = helpers.wait_job(c, r.json()["id"])
    assert st["state"] == "done"
    assert st["names"][0] == "evil.png" and st["names"][1].startswith("evil2.png")
    assert not any(ch in nm for nm in st["names"] for ch in "/\\\x00")
    found = [p.name for p in Path(store.root).parent.rglob("evil*")] + [p.name for p in tmp_path.rglob("evil*")]
    assert found == []
    assert {p.parent for p in Path(store.root).rglob("*")} <= {Path(store.root), Path(store.root) / st["id"]}


# ---------------------------------------------------------------- retouch


def test_retouch_changes_download_under_the_stroke_and_maps(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    st = _done_job(c, helpers, _bytes(pair_files))
    jid = st["id"]
    a = helpers.decode(pair_files[0].read_bytes())
    b = helpers.decode(pair_files[1].read_bytes())
    before = helpers.decode(c.get(f"/api/jobs/{jid}/download/fused.png").content)
    assert np.array_equal(before[20, 5:15], a[20, 5:15])  # A's sharp half
    stroke = {"frame": 1, "radius": 4, "soft": 0, "points": [[5.5, 20.5], [14.5, 20.5]]}
    r = c.post(f"/api/jobs/{jid}/retouch", json={"strokes": [stroke]}, headers=helpers.HDR)
    assert r.status_code == 200 and r.json() == {"rev": 1, "strokes": 1}
    after = helpers.decode(c.get(f"/api/jobs/{jid}/download/fused.png").content)
    assert np.array_equal(after[20, 5:15], b[20, 5:15])  # now from B under the stroke
    assert np.array_equal(after[:10], before[:10]) and np.array_equal(after[30:], before[30:])  # untouched
    dec = helpers.decode(c.get(f"/api/jobs/{jid}/download/decision-map.png").content)
    assert dec[20, 5:15].max() == 0 and dec[5, 5] == 255
    dep = helpers.decode(c.get(f"/api/jobs/{jid}/download/depth-map.png").content)
    assert dep[20, 5:15].min() == 255 and dep[5, 5] == 0
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/view/result.png").content), after)
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/view/fused.png").content), before)  # original
    got = c.get(f"/api/jobs/{jid}/strokes").json()
    assert got == {"rev": 1, "strokes": [stroke]}
    assert c.get(f"/api/jobs/{jid}").json()["strokes"] == 1
    # undo = post the shorter list: the download is the CLI's result again
    r = c.post(f"/api/jobs/{jid}/retouch", json={"strokes": []}, headers=helpers.HDR)
    assert r.json()["rev"] == 2
    assert np.array_equal(helpers.decode(c.get(f"/api/jobs/{jid}/download/fused.png").content), before)


@pytest.mark.parametrize("body, needle", [
    (b"not json", "JSON"),
    (b'{"strokes": [], "x": 1}', "JSON"),
    (b'{"strokes": {}}', "list"),
    (b'{"strokes": [{"frame": 2, "radius": 3, "soft": 0, "points": [[1, 1]]}]}', "frame"),
    (b'{"strokes": [{"frame": 0, "radius": -3, "soft": 0, "points": [[1, 1]]}]}', "radius"),
    (b'{"strokes": [{"frame": 0, "radius": 3, "soft": 2, "points": [[1, 1]]}]}', "soft"),
    (b'{"strokes": [{"frame": 0, "radius": 3, "soft": 0, "points": []}]}', "points"),
    (b'{"strokes": [{"frame": 0, "radius": 3, "soft": 0, "points": [[1, "x"]]}]}', "point 0"),
    (b'{"strokes": [{"frame": 0, "radius": 3, "soft": 0, "points": [[1, 1]], "path": "/etc"}]}', "object"),
])
def test_retouch_refusals(make_client, helpers, pair_files, body, needle):  # noqa: ANN001
    c = make_client()
    st = _done_job(c, helpers, _bytes(pair_files))
    r = c.post(f"/api/jobs/{st['id']}/retouch", content=body,
               headers={**helpers.HDR, "content-type": "application/json"})
    assert r.status_code == 400 and needle in r.json()["error"]
    assert c.get(f"/api/jobs/{st['id']}").json()["rev"] == 0


def test_delete_job(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    st = _done_job(c, helpers, _bytes(pair_files))
    folder = Path(c.mfif_store.root) / st["id"]
    assert folder.is_dir()
    assert c.post(f"/api/jobs/{st['id']}/delete", headers=helpers.HDR).json() == {"deleted": st["id"]}
    assert not folder.exists()
    assert c.get(f"/api/jobs/{st['id']}").status_code == 404
    assert c.post(f"/api/jobs/{st['id']}/delete", headers=helpers.HDR).status_code == 404


def test_unknown_and_malformed_job_ids(make_client, helpers):  # noqa: ANN001
    c = make_client()
    for jid in ("0" * 32, "..", "%2E%2E%2F%2E%2E", "x" * 32, "ABCDEF" + "0" * 26):
        for path in (f"/api/jobs/{jid}", f"/api/jobs/{jid}/strokes", f"/api/jobs/{jid}/view/fused.png",
                     f"/api/jobs/{jid}/download/fused.png"):
            assert c.get(path).status_code == 404, path
        assert c.post(f"/api/jobs/{jid}/retouch", json={"strokes": []}, headers=helpers.HDR).status_code == 404


# ---------------------------------------------------------------- refusals


def test_upload_too_large_by_header_is_413(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client(max_upload_bytes=2000)
    r = helpers.post_job(c, _bytes(pair_files))
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert list(Path(c.mfif_store.root).iterdir()) == []


def test_upload_too_large_streamed_is_413(make_client, helpers):  # noqa: ANN001
    c = make_client(max_upload_bytes=50_000)

    def body():  # noqa: ANN202 - chunked: no Content-Length for the header check
        yield b"--xx\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n"
        for _ in range(20):
            yield b"\x89PNG" + b"\0" * 8192

    r = c.post("/api/jobs", content=body(), headers={**helpers.HDR, "content-type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 413
    assert list(Path(c.mfif_store.root).iterdir()) == []


def test_not_an_image_is_415(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    for payload in (b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"GIF89a" + b"\0" * 20, b"import os\nos.system('x')\n",
                    b"PK\x03\x04safetensors"):
        r = helpers.post_job(c, [("a.png", pair_files[0].read_bytes()), ("b.png", payload)])
        assert r.status_code == 415 and r.json()["error"].startswith("b.png: not an accepted image type")
    r = c.post("/api/jobs", json={"files": ["/etc/passwd", "/etc/hosts"]}, headers=helpers.HDR)
    assert r.status_code == 415
    assert list(Path(c.mfif_store.root).iterdir()) == []


def test_decoded_pixel_limits_are_422(make_client, helpers, pair_files, sources):  # noqa: ANN001
    c = make_client(max_pixels=40 * 48 - 1)
    r = helpers.post_job(c, _bytes(pair_files))
    assert r.status_code == 422 and "pixel limit per image" in r.json()["error"]
    c = make_client(max_total_pixels=40 * 48 * 2 - 1)
    r = helpers.post_job(c, _bytes(pair_files))
    assert r.status_code == 422 and "per job" in r.json()["error"]
    # a decompression bomb: a tiny file whose header claims 20000 x 20000 pixels
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (20000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 20001 * 64)) + chunk(b"IEND", b"")
    c = make_client()
    r = helpers.post_job(c, [("a.png", pair_files[0].read_bytes()), ("bomb.png", bomb)])
    assert r.status_code == 422 and "bomb.png" in r.json()["error"]


@pytest.mark.parametrize("fields, needle", [
    ({"weights": "evil.safetensors"}, "'weights' is not accepted"),
    ({"device": "cuda"}, "'device' is not accepted"),
    ({"method": "../../x"}, "unknown method"),
    ({"align": "sift"}, "align must be"),
    ({"tta": "3"}, "tta must be"),
    ({"soft": "maybe"}, "soft must be"),
    ({"edge_guide": "c"}, "edge_guide must be"),
])
def test_bad_fields_are_400(make_client, helpers, pair_files, fields, needle):  # noqa: ANN001
    c = make_client()
    r = helpers.post_job(c, _bytes(pair_files), **fields)
    assert r.status_code == 400 and needle in r.json()["error"], r.text
    assert list(Path(c.mfif_store.root).iterdir()) == []


def test_weights_file_upload_is_refused(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    files = [("files", ("a.png", pair_files[0].read_bytes())), ("files", ("b.png", pair_files[1].read_bytes())),
             ("weights", ("w.safetensors", b"\0" * 64))]
    r = c.post("/api/jobs", files=files, headers=helpers.HDR)
    assert r.status_code == 400 and "'weights' is not accepted" in r.json()["error"]


def test_fewer_than_two_images_is_400(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    r = helpers.post_job(c, _bytes(pair_files[:1]))
    assert r.status_code == 400 and "at least two" in r.json()["error"]


def test_posts_need_the_page_header_and_same_origin(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    files = [("files", (p.name, p.read_bytes())) for p in pair_files]
    r = c.post("/api/jobs", files=files)  # a plain cross-site form could send this
    assert r.status_code == 403 and "X-Mfif" in r.json()["error"]
    r = c.post("/api/jobs", files=files, headers={**helpers.HDR, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = c.post("/api/jobs", files=files, headers={**helpers.HDR, "Origin": "http://127.0.0.1:8000"})
    assert r.status_code == 202
    assert len(c.mfif_store.jobs) == 1


def test_loopback_server_refuses_other_host_names(make_client, helpers):  # noqa: ANN001
    c = make_client()
    assert c.get("/api/info", headers={"Host": "evil.example"}).status_code == 421  # DNS rebinding
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert c.get("/api/info", headers={"Host": host}).status_code == 200, host
    c2 = make_client(loopback_only=False)
    assert c2.get("/api/info", headers={"Host": "fusion.lan:8000"}).status_code == 200


def test_no_state_change_on_get(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client()
    st = _done_job(c, helpers, _bytes(pair_files))
    jid = st["id"]
    for path in ("/api/jobs", f"/api/jobs/{jid}/retouch", f"/api/jobs/{jid}/delete"):
        assert c.get(path).status_code == 405, path
    assert c.get(f"/api/jobs/{jid}/retouch?strokes=[]").status_code == 405
    assert len(c.mfif_store.jobs) == 1 and c.get(f"/api/jobs/{jid}").json()["rev"] == 0
    assert c.put("/api/jobs", headers=helpers.HDR).status_code == 405


# ---------------------------------------------------------------- queue, cap, clean-up


def _blocking_store(**kw):  # noqa: ANN003, ANN202
    from mfif.web.jobs import JobStore

    gate = threading.Event()

    class Store(JobStore):
        def _run(self, job):  # noqa: ANN001, ANN202
            job.state = "running"
            gate.wait(30)
            return super()._run(job)

    return Store(**kw), gate


def test_queue_full_is_503_and_queued_jobs_run_later(make_client, helpers, pair_files):  # noqa: ANN001
    store, gate = _blocking_store(workers=1, queue_size=1)
    c = make_client(store=store)
    try:
        first = helpers.post_job(c, _bytes(pair_files)).json()["id"]
        for _ in range(500):  # the worker has taken the first job
            if c.get(f"/api/jobs/{first}").json()["state"] == "running":
                break
            threading.Event().wait(0.01)
        second = helpers.post_job(c, _bytes(pair_files))
        assert second.status_code == 202 and c.get(f"/api/jobs/{second.json()['id']}").json()["state"] == "queued"
        third = helpers.post_job(c, _bytes(pair_files))
        assert third.status_code == 503 and "queue is full" in third.json()["error"]
        r = c.post(f"/api/jobs/{first}/retouch", json={"strokes": []}, headers=helpers.HDR)
        assert r.status_code == 409
        assert c.post(f"/api/jobs/{first}/delete", headers=helpers.HDR).status_code == 409
        assert c.get(f"/api/jobs/{first}/download/fused.png").status_code == 409
    finally:
        gate.set()
    assert helpers.wait_job(c, first)["state"] == "done"
    assert helpers.wait_job(c, second.json()["id"])["state"] == "done"
    assert len(list(Path(store.root).iterdir())) == 2  # the refused job left no folder
    store.close()


def test_results_folder_cap_evicts_oldest_finished(make_client, helpers, pair_files):  # noqa: ANN001
    c = make_client(cap_bytes=1)  # every finished job is over the cap once another arrives
    first = _done_job(c, helpers, _bytes(pair_files))["id"]
    second = _done_job(c, helpers, _bytes(pair_files))["id"]
    assert c.get(f"/api/jobs/{first}").status_code == 404
    assert not (Path(c.mfif_store.root) / first).exists()
    assert c.get(f"/api/jobs/{second}").status_code in (200, 404)


def test_results_are_removed_at_shutdown(helpers, pair_files):  # noqa: ANN001
    from starlette.testclient import TestClient

    from mfif.web.app import WebConfig, create_app

    app = create_app(WebConfig(workers=1))
    root = Path(app.state.store.root)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        _done_job(c, helpers, _bytes(pair_files))
        assert any(root.iterdir())
    assert not root.exists()


def test_one_multipage_tiff_is_a_stack(make_client, helpers, sources, tmp_path):  # noqa: ANN001
    import tifffile

    frames = sources(3)
    stack = tmp_path / "zstack.tif"
    tifffile.imwrite(stack, np.stack([np.round(f * 255).astype(np.uint8) for f in frames]), photometric="rgb")
    c = make_client()
    st = _done_job(c, helpers, [("zstack.tif", stack.read_bytes())])
    assert st["frames"] == 3 and st["kind"] == "stack"
    assert st["names"] == ["zstack.tif[frame 0]", "zstack.tif[frame 1]", "zstack.tif[frame 2]"]
    cli = helpers.cli_fuse([stack], tmp_path / "cli.tif")
    got = c.get(f"/api/jobs/{st['id']}/download/fused.tif").content
    assert np.array_equal(helpers.decode(got), helpers.decode(cli.read_bytes()))
    r = c.post(f"/api/jobs/{st['id']}/retouch", json={"strokes": [{"frame": 2, "radius": 3, "soft": 0,
                                                                   "points": [[5.5, 5.5]]}]}, headers=helpers.HDR)
    assert r.status_code == 200
    r = c.post(f"/api/jobs/{st['id']}/retouch", json={"strokes": [{"frame": 3, "radius": 3, "soft": 0,
                                                                   "points": [[5.5, 5.5]]}]}, headers=helpers.HDR)
    assert r.status_code == 400 and "0..2" in r.json()["error"]


def test_one_single_page_file_is_refused(make_client, helpers, pair_files, tmp_path):  # noqa: ANN001
    c = make_client()
    r = helpers.post_job(c, [("a.png", pair_files[0].read_bytes())])
    assert r.status_code == 400 and "multi-page TIFF" in r.json()["error"]
    import tifffile

    one = tmp_path / "one.tif"
    tifffile.imwrite(one, np.zeros((20, 20), np.uint8))
    r = helpers.post_job(c, [("one.tif", one.read_bytes())])
    st = helpers.wait_job(c, r.json()["id"])
    assert st["state"] == "error" and "one.tif" in st["error"] and "two frames" in st["error"]


def test_sniffing_by_first_bytes():
    from mfif.web.uploads import sniff_suffix

    tiff = b"II*\x00" + b"\0" * 12
    assert sniff_suffix(tiff, "x.tif") == ".tif" and sniff_suffix(tiff, "x.DNG") == ".dng"
    assert sniff_suffix(tiff, "x.png") == ".tif" and sniff_suffix(tiff, "../../x.cr2") == ".cr2"
    assert sniff_suffix(b"\x00\x00\x00\x18ftypheic" + b"\0" * 4, "a.jpg") == ".heic"
    assert sniff_suffix(b"\x00\x00\x00\x18ftypcrx " + b"\0" * 4, "a") == ".cr3"
    assert sniff_suffix(b"FUJIFILMCCD-RAW 0201", "") == ".raf"
    assert sniff_suffix(b"\xff\xd8\xff\xe0" + b"\0" * 12, "a.png") == ".jpg"
    for bad in (b"GIF89a" + b"\0" * 10, b"<?xml " + b"\0" * 10, b"\x00" * 16, b"%PDF-1.7" + b"\0" * 8):
        assert sniff_suffix(bad, "a.png") is None
