"""End-to-end tests in a real headless Chromium (Debian's ``chromium`` driven by Playwright).

A real ``uvicorn`` server on a loopback port serves the app; the page gets two files dropped on it,
fuses them, and the test reads what the page displays (canvas pixels) and what it downloads, moves
the before/after slider, paints a retouch stroke, undoes it, and reloads the page by its job URL.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium binary (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402 - the test extra installs it

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Using `httpx`")]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    """A real uvicorn server on 127.0.0.1 (free port) in a thread; yields its base URL."""
    import uvicorn

    from mfif.web.app import WebConfig, create_app

    app = create_app(WebConfig(workers=1))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    end = time.time() + 30
    while not srv.started and time.time() < end:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    t.join(timeout=30)


@pytest.fixture(scope="module")
def browser_ctx():  # noqa: ANN201
    """A fresh Chromium profile (its own user-data-dir), downloads accepted."""
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, accept_downloads=True,
            viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser_ctx):  # noqa: ANN001, ANN201
    pg = browser_ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    pg.close()
    assert errors == [], errors


def wait(page, js: str, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Poll a JS expression until true (the page's CSP forbids eval, so no wait_for_function)."""
    end = time.time() + timeout
    while time.time() < end:
        if page.evaluate(js):
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {js}")


def drop(page, files: list[tuple[str, bytes]]) -> None:  # noqa: ANN001
    """Drop files on the drop zone as a user dragging them from a file manager would."""
    dt = page.evaluate_handle(
        """(fs) => { const dt = new DataTransfer();
             for (const [n, b64] of fs) { const s = atob(b64), u = new Uint8Array(s.length);
               for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
               dt.items.add(new File([u], n, { type: "image/png" })); }
             return dt; }""",
        [[n, base64.b64encode(b).decode()] for n, b in files])
    page.dispatch_event("#drop", "drop", {"dataTransfer": dt})


def fuse_in_page(page, url: str, files: list[Path], method: str) -> None:  # noqa: ANN001
    page.goto(url)
    wait(page, "document.getElementById('method').options.length > 0")
    page.select_option("#method", method)
    drop(page, [(p.name, p.read_bytes()) for p in files])
    assert page.locator("#filelist li").count() == len(files)
    page.click("#run")
    wait(page, "!document.getElementById('result').hidden")
    assert "#job=" in page.url


def displayed(page) -> np.ndarray:  # noqa: ANN001
    """The image as shown in the main view at 1:1 (RGB uint8, H×W×3), read from the canvas."""
    page.click("#one")
    data = page.evaluate("""() => { const S = mfifState, v = S.view, c = document.getElementById('cv-main');
        const d = c.getContext('2d').getImageData(v.tx, v.ty, S.W, S.H);
        return { w: S.W, h: S.H, px: Array.from(d.data) }; }""")
    return np.asarray(data["px"], dtype=np.uint8).reshape(data["h"], data["w"], 4)[..., :3]


def download(page, selector: str) -> bytes:  # noqa: ANN001
    wait(page, "document.getElementById('sync').dataset.state === 'saved'")
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_drop_fuse_display_download_and_slider(server, page, pair_files, helpers, tmp_path):  # noqa: ANN001
    cli = helpers.cli_fuse(pair_files, tmp_path / "cli.png")
    ref = helpers.decode(cli.read_bytes())
    a, b = (helpers.decode(p.read_bytes()) for p in pair_files)
    assert not np.array_equal(ref, b)
    fuse_in_page(page, server, pair_files, helpers.METHOD)
    assert "laplacian-argmax · 2 frames · 48×40 · 8-bit" in page.inner_text("#info")
    assert np.array_equal(displayed(page), ref)  # what the page shows is the CLI's output, bit for bit
    assert download(page, "#dl-png") == cli.read_bytes()  # and so is what it downloads
    # before/after: frame B left of the split line, the result right of it
    page.select_option("#compare", "1")
    page.fill("#split", "50")
    page.dispatch_event("#split", "input")
    shown = page.evaluate("""() => { const S = mfifState, v = S.view, c = document.getElementById('cv-main');
        const xs = Math.round(c.width * 0.5) - v.tx;
        return { xs, px: Array.from(c.getContext('2d').getImageData(v.tx, v.ty, S.W, S.H).data) }; }""")
    img = np.asarray(shown["px"], dtype=np.uint8).reshape(40, 48, 4)[..., :3]
    xs = shown["xs"]
    assert 5 < xs < 43
    assert np.array_equal(img[:, : xs - 1], b[:, : xs - 1])
    assert np.array_equal(img[:, xs + 1:], ref[:, xs + 1:])
    # the side view shows the chosen source frame with the same zoom and pan
    side = page.evaluate("""() => { const S = mfifState, v = S.view, c = document.getElementById('cv-side');
        return Array.from(c.getContext('2d').getImageData(v.tx, v.ty, S.W, S.H).data); }""")
    assert np.array_equal(np.asarray(side, dtype=np.uint8).reshape(40, 48, 4)[..., :3], b)


def test_retouch_stroke_undo_redo_and_reload(server, page, pair_files, helpers, tmp_path):  # noqa: ANN001
    cli = helpers.cli_fuse(pair_files, tmp_path / "cli.png")
    ref = helpers.decode(cli.read_bytes())
    b = helpers.decode(pair_files[1].read_bytes())
    fuse_in_page(page, server, pair_files, helpers.METHOD)
    page.click("#one")
    page.check("#mode-paint")
    page.select_option("#paintframe", "1")  # take pixels from B
    page.fill("#brush", "8")  # diameter 8 px
    page.fill("#feather", "0")  # hard edge
    box = page.locator("#cv-main").bounding_box()
    v = page.evaluate("mfifState.view")
    x0, y0 = box["x"] + v["tx"], box["y"] + v["ty"]
    page.mouse.move(x0 + 6.5, y0 + 20.5)
    page.mouse.down()
    page.mouse.move(x0 + 14.5, y0 + 20.5, steps=8)
    page.mouse.up()
    wait(page, "mfifState.rev >= 1 && document.getElementById('sync').dataset.state === 'saved'")
    got = helpers.decode(download(page, "#dl-png"))
    assert np.array_equal(got[19:22, 7:15], b[19:22, 7:15])  # under the stroke: B's pixels
    assert not np.array_equal(ref[19:22, 7:15], b[19:22, 7:15])  # which the fusion had not chosen
    assert np.array_equal(got[:12], ref[:12]) and np.array_equal(got[30:], ref[30:])  # elsewhere unchanged
    assert np.array_equal(displayed(page), got)  # the page shows the re-composed result
    # undo, redo
    page.click("#undo")
    wait(page, "mfifState.rev >= 2 && document.getElementById('sync').dataset.state === 'saved'")
    assert download(page, "#dl-png") == cli.read_bytes()
    page.click("#redo")
    wait(page, "mfifState.rev >= 3 && document.getElementById('sync').dataset.state === 'saved'")
    assert np.array_equal(helpers.decode(download(page, "#dl-png")), got)
    # the job id in the URL survives a reload, with its retouch
    page.reload()
    wait(page, "!document.getElementById('result').hidden && mfifState.strokes.length === 1")
    assert np.array_equal(helpers.decode(download(page, "#dl-png")), got)


def test_refusal_is_shown_on_the_page(server, page, pair_files, helpers):  # noqa: ANN001
    page.goto(server)
    wait(page, "document.getElementById('method').options.length > 0")
    page.select_option("#method", helpers.METHOD)
    drop(page, [("a.png", pair_files[0].read_bytes()), ("notes.png", b"just some text, not an image")])
    page.click("#run")
    wait(page, "!document.getElementById('error').hidden")
    assert "notes.png: not an accepted image type" in page.inner_text("#error")
    assert page.locator("#result").is_hidden()


def test_stack_of_three_offers_the_depth_map_only(server, page, sources, helpers, tmp_path):  # noqa: ANN001
    paths = []
    for k, img in enumerate(sources(3)):
        p = tmp_path / f"f{k + 1}.png"
        p.write_bytes(helpers.encode_png(img))
        paths.append(p)
    fuse_in_page(page, server, list(reversed(paths)), helpers.METHOD)  # the page orders them by name
    assert page.evaluate("mfifState.status.names") == ["f1.png", "f2.png", "f3.png"]
    assert page.locator("#dl-depth").is_visible() and page.locator("#dl-decision").is_hidden()
    assert page.locator("#legend .swatch").count() == 3
    cli = helpers.cli_fuse(paths, tmp_path / "cli.png")
    assert download(page, "#dl-png") == cli.read_bytes()
