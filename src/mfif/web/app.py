"""The ASGI app of ``mfif serve`` (Starlette): one page, a JSON API, downloads.

Endpoints (every state change is a POST; GET never changes anything):

- ``GET /`` the page; ``GET /static/app.js``, ``/static/app.css`` its two files (a fixed table).
- ``GET /api/info`` methods, default method, limits.
- ``POST /api/jobs`` multipart ``files`` (2…N images, or one multi-page TIFF) + ``method``, ``align``, ``tta``, ``soft``,
  ``edge_guide`` → ``202 {"id"}``; refusals 400 (fields), 413 (body size), 415 (not an image type),
  422 (decoded-pixel limit), 503 (queue full).
- ``GET /api/jobs/{id}`` status and progress (polled by the page); ``GET /api/jobs/{id}/strokes``.
- ``POST /api/jobs/{id}/retouch`` JSON ``{"strokes": […]}`` (see :mod:`mfif.web.retouch`);
  ``POST /api/jobs/{id}/delete``.
- ``GET /api/jobs/{id}/view/{fused|result|map|frame-K}.png`` 8-bit views for the page.
- ``GET /api/jobs/{id}/download/{fused.png|fused.tif|decision-map.png|depth-map.png|focus-map.png}``
  with the retouch applied, the result at the sources' bit depth (16-bit kept), as ``mfif fuse`` writes it.

POSTs must carry the header ``X-Mfif: 1`` and, when the browser sends an ``Origin``, it must be this
server (a cross-site page cannot post here). On loopback the ``Host`` header must be a loopback name.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from mfif.errors import MfifError
from mfif.web import uploads
from mfif.web.jobs import ALIGN_CHOICES, EDGE_CHOICES, TTA_CHOICES, Job, JobParams, JobStore, QueueFull

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
STATIC = {  # URL name → (package file, media type); nothing else is served from the package
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}
FORM_FIELDS = {"files", "method", "align", "tta", "soft", "edge_guide"}
DOWNLOADS = {  # URL name → (array, file suffix)
    "fused.png": ("fused", ".png"),
    "fused.tif": ("fused", ".tif"),
    "decision-map.png": ("decision", ".png"),
    "depth-map.png": ("depth", ".png"),
    "focus-map.png": ("focus", ".png"),
}
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_FRAME_VIEW = re.compile(r"frame-(\d{1,4})")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass
class WebConfig:
    """Server settings (all from the command line, none from clients).

    Attributes:
        max_upload_bytes: Largest request body (413 above).
        max_pixels: Largest decoded image, pixels per upload (all pages of a TIFF) (422 above).
        max_total_pixels: Largest sum over the uploads of one job (422 above).
        max_files: Most images per job.
        workers: Jobs fused at the same time.
        queue_size: Jobs that may wait (503 above).
        cap_bytes: Size cap of the temporary results folder (oldest finished jobs evicted).
        device: ``auto``, ``cpu`` or ``cuda`` for learned methods.
        loopback_only: Accept only loopback ``Host`` headers (False when ``--host`` is given).
    """

    max_upload_bytes: int = 256 << 20
    max_pixels: int = 64_000_000
    max_total_pixels: int = 256_000_000
    max_files: int = 64
    workers: int = 2
    queue_size: int = 64
    cap_bytes: int = 2 << 30
    device: str = "auto"
    loopback_only: bool = True


def _err(status: int, msg: str) -> JSONResponse:
    return JSONResponse({"error": msg}, status_code=status)


def display_name(raw: str | None, i: int) -> str:
    """A client file name made safe to show (never used as a path): last component, no control
    characters, at most 80 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return (name[:80] or f"image {i + 1}")


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: body size limit (413), loopback Host check, POST origin check, headers."""

    def __init__(self, app: Callable[..., Awaitable[None]], config: WebConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.config.loopback_only and _host_name(host) not in LOOPBACK_HOSTS:
            await _send_json(send, 421, {"error": f"this server answers loopback names only, not {host!r}"})
            return
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if headers.get("x-mfif") != "1":
                await _send_json(send, 403, {"error": "missing X-Mfif header (requests come from the page)"})
                return
            if origin is not None and (urlsplit(origin).netloc or "").lower() != host.lower():
                await _send_json(send, 403, {"error": "cross-origin request refused"})
                return
        limit = self.config.max_upload_bytes
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = 0
        if length > limit:
            await _send_json(send, 413, {"error": f"request body of {length} bytes exceeds the {limit}-byte limit"})
            return
        seen = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def tracking_send(msg: dict) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode()),
                         (b"cache-control", b"no-store")]
                msg = {**msg, "headers": list(msg.get("headers", [])) + extra}
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, {"error": f"request body exceeds the {limit}-byte limit"})


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _send_json(send: Callable, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def create_app(config: WebConfig | None = None, *, store: JobStore | None = None) -> Any:
    """Build the ASGI app (Starlette wrapped in :class:`Guard`).

    Args:
        config: Server settings (defaults: :class:`WebConfig`).
        store: A job store to use (default: a new one from ``config``; closed on shutdown).

    Returns:
        The ASGI app; ``app.state`` of the inner Starlette app holds ``store`` and ``config``.
    """
    from contextlib import asynccontextmanager

    cfg = config or WebConfig()
    own_store = store is None
    jobs = store or JobStore(workers=cfg.workers, queue_size=cfg.queue_size, cap_bytes=cfg.cap_bytes,
                             device=cfg.device)
    static_dir = resources.files("mfif.web") / "static"

    async def index(request: Request) -> Response:
        return Response((static_dir / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        entry = STATIC.get(request.path_params["name"])
        if entry is None:
            return _err(404, "not found")
        return Response((static_dir / entry[0]).read_bytes(), media_type=entry[1])

    async def info(request: Request) -> Response:
        from mfif import __version__
        from mfif.fusion.methods import default_method
        from mfif.registry import list_methods

        methods = [{"name": m.name, "description": m.description, "learned": bool(m.needs_weights)}
                   for m in list_methods() if not m.name.startswith("_")]
        return JSONResponse({
            "version": __version__, "methods": methods, "default": default_method(),
            "align": list(ALIGN_CHOICES), "tta": list(TTA_CHOICES), "edge_guide": list(EDGE_CHOICES),
            "limits": {"max_upload_bytes": cfg.max_upload_bytes, "max_pixels": cfg.max_pixels,
                       "max_total_pixels": cfg.max_total_pixels, "max_files": cfg.max_files},
        })

    def parse_params(form: Any) -> JobParams:
        from mfif.registry import list_methods

        for key in form.keys():
            if key not in FORM_FIELDS:
                raise MfifError(f"field {key!r} is not accepted (fields: {', '.join(sorted(FORM_FIELDS))})")
        for key in FORM_FIELDS - {"files"}:
            if len(form.getlist(key)) > 1 or isinstance(form.get(key), UploadFile):
                raise MfifError(f"field {key!r} must be one text value")
        p = JobParams()
        method = (form.get("method") or "").strip()
        if method:
            names = {m.name for m in list_methods() if not m.name.startswith("_")}
            if method not in names:
                raise MfifError(f"unknown method {method[:60]!r}; GET /api/info lists them")
            p.method = method
        align = (form.get("align") or "none").strip()
        if align not in ALIGN_CHOICES:
            raise MfifError(f"align must be one of {', '.join(ALIGN_CHOICES)}, got {align[:30]!r}")
        p.align = align
        tta = (form.get("tta") or "").strip()
        if tta:
            if tta not in {str(t) for t in TTA_CHOICES}:
                raise MfifError(f"tta must be one of {', '.join(map(str, TTA_CHOICES))}, got {tta[:30]!r}")
            p.tta = int(tta)
        soft = (form.get("soft") or "").strip().lower()
        if soft not in ("", "0", "1", "false", "true", "on", "off"):
            raise MfifError(f"soft must be true or false, got {soft[:30]!r}")
        p.soft = soft in ("1", "true", "on")
        edge = (form.get("edge_guide") or "").strip().lower()
        if edge and edge not in EDGE_CHOICES:
            raise MfifError(f"edge_guide must be a, b or empty, got {edge[:30]!r}")
        p.edge_guide = edge or None
        return p

    async def create_job(request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return _err(415, "send the images as multipart/form-data")
        try:
            form = await request.form(max_files=cfg.max_files, max_fields=16)
        except _TooLarge:
            raise
        except Exception as exc:  # noqa: BLE001 - malformed multipart, too many parts
            detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
            return _err(400, f"bad upload ({str(detail).splitlines()[0][:200]})")
        try:
            try:
                params = parse_params(form)
            except MfifError as exc:
                return _err(400, str(exc))
            files = [f for f in form.getlist("files")]
            if any(not isinstance(f, UploadFile) for f in files):
                return _err(400, "field 'files' must hold files")
            names = [display_name(f.filename, i) for i, f in enumerate(files)]
            if len(files) < 2 and not (files and names[0].lower().endswith((".tif", ".tiff"))):
                return _err(400, f"fusion needs at least two images (or one multi-page TIFF), got {len(files)}")
            job = jobs.new_job(names, params)
            try:
                total = 0
                for i, (f, name) in enumerate(zip(files, names)):
                    head = await f.read(16)
                    suffix = uploads.sniff_suffix(head, name)
                    if suffix is None:
                        jobs.discard(job)
                        return _err(415, f"{name}: not an accepted image type ({uploads.ACCEPTED_TYPES})")
                    path = job.folder / f"upload-{i:04d}{suffix}"
                    with open(path, "wb") as fh:
                        fh.write(head)
                        while chunk := await f.read(1 << 20):
                            fh.write(chunk)
                    job.uploads.append(path)
                    try:
                        px = await run_in_threadpool(uploads.header_pixels, path, suffix)
                    except MfifError as exc:
                        jobs.discard(job)
                        return _err(415, f"{name}: {exc}")
                    if px > cfg.max_pixels:
                        jobs.discard(job)
                        return _err(422, f"{name}: {px} pixels exceed the {cfg.max_pixels}-pixel limit per image")
                    total += px
                    if total > cfg.max_total_pixels:
                        jobs.discard(job)
                        return _err(422, f"the images hold more than the {cfg.max_total_pixels}-pixel limit per job")
                jobs.submit(job)
            except QueueFull:
                return _err(503, "the job queue is full; try again in a moment")
            except BaseException:
                jobs.discard(job)
                raise
        finally:
            await form.close()
        return JSONResponse({"id": job.id, "status": f"/api/jobs/{job.id}"}, status_code=202)

    def find(request: Request) -> Job | None:
        jid = request.path_params["jid"]
        if not _JOB_ID.fullmatch(jid):
            return None
        return jobs.get(jid)

    async def job_status(request: Request) -> Response:
        job = find(request)
        if job is None:
            return _err(404, "no such job (finished jobs are removed when the results folder is full)")
        return JSONResponse(job.status())

    async def job_strokes(request: Request) -> Response:
        job = find(request)
        if job is None:
            return _err(404, "no such job")
        return JSONResponse({"rev": job.rev, "strokes": job.strokes_json})

    async def job_retouch(request: Request) -> Response:
        job = find(request)
        if job is None:
            return _err(404, "no such job")
        if job.state != "done":
            return _err(409, f"job is {job.state}; retouch needs a finished job")
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _err(400, "body must be JSON {\"strokes\": [...]}")
        if not isinstance(data, dict) or set(data) != {"strokes"}:
            return _err(400, "body must be JSON {\"strokes\": [...]}")
        try:
            rev = jobs.set_strokes(job, data["strokes"])
        except MfifError as exc:
            return _err(400, str(exc))
        return JSONResponse({"rev": rev, "strokes": len(job.strokes)})

    async def job_delete(request: Request) -> Response:
        job = find(request)
        if job is None:
            return _err(404, "no such job")
        if not jobs.delete(job.id):
            return _err(409, f"job is {job.state}; only finished jobs can be deleted")
        return JSONResponse({"deleted": job.id})

    def render(job: Job, what: str, suffix: str, *, view: bool) -> Any:
        from mfif.io import write_image

        with job.lock:
            rev = job.rev
        out = job.folder / f"out-{'v' if view else 'd'}-{what}-r{rev}{suffix}"
        if out.exists():
            return out
        arr = jobs.result_array(job, what)
        if view:
            write_image(out, arr, bit_depth=8)
            return out
        meta, description = jobs.file_metadata(job)  # what `mfif fuse` writes with each output
        if what == "fused":
            exif, icc = jobs.metadata(job)
            write_image(out, arr, bit_depth=job.bit_depth, exif=exif, icc_profile=icc, description=description, **meta)
        elif what == "depth":  # as `mfif fuse --depth-map` writes a PNG
            n = len(job.names)
            write_image(out, arr.astype(np.float32) / max(1, n - 1), bit_depth=8 if n <= 256 else 16, **meta)
        else:  # decision map as `mfif fuse --map`, focus map alike
            write_image(out, np.asarray(arr, np.float32), bit_depth=8, **meta)
        return out

    async def job_view(request: Request) -> Response:
        job = find(request)
        if job is None:
            return _err(404, "no such job")
        if job.state != "done":
            return _err(409, f"job is {job.state}")
        name = request.path_params["name"]
        m = _FRAME_VIEW.fullmatch(name)
        if m:
            k = int(m.group(1))
            if k >= len(job.names):
                return _err(404, f"no frame {k}")
            out = job.folder / f"out-v-frame{k}.png"
            if not out.exists():
                from mfif.io import write_image

                await run_in_threadpool(lambda: write_image(out, np.asarray(job.load("frames", mmap=True)[k]), bit_depth=8))
            return FileResponse(out, media_type="image/png")
        if name in ("fused", "map"):  # the un-retouched fusion and index map (the page overlays strokes)
            if name == "map" and "depth" not in job.maps:
                return _err(404, f"method {job.method!r} produces no map")
            out = job.folder / f"out-v-original-{name}.png"
            if not out.exists():
                from mfif.io import write_image

                def draw() -> None:
                    if name == "fused":
                        write_image(out, job.load("fused"), bit_depth=8)
                    else:  # raw indices 0..N-1 (1 = B for a pair)
                        write_image(out, np.clip(job.load("depth"), 0, 255).astype(np.float32) / 255.0, bit_depth=8)

                await run_in_threadpool(draw)
            return FileResponse(out, media_type="image/png")
        if name != "result":
            return _err(404, f"no view {name[:40]!r}")
        out = await run_in_threadpool(render, job, "fused", ".png", view=True)
        return FileResponse(out, media_type="image/png")

    async def job_download(request: Request) -> Response:
        job = find(request)
        if job is None:
            return _err(404, "no such job")
        if job.state != "done":
            return _err(409, f"job is {job.state}")
        entry = DOWNLOADS.get(request.path_params["name"])
        if entry is None:
            return _err(404, f"no download {request.path_params['name'][:40]!r} (choices: {', '.join(DOWNLOADS)})")
        what, suffix = entry
        if what != "fused" and what not in job.maps:
            return _err(404, f"method {job.method!r} produces no {what} map")
        try:
            out = await run_in_threadpool(render, job, what, suffix, view=False)
        except MfifError as exc:
            return _err(500, str(exc))
        media = "image/png" if suffix == ".png" else "image/tiff"
        return FileResponse(out, media_type=media, filename=f"mfif-{request.path_params['name']}")

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202
        try:
            yield
        finally:
            if own_store:
                jobs.close()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/api/info", info, methods=["GET"]),
        Route("/api/jobs", create_job, methods=["POST"]),
        Route("/api/jobs/{jid}", job_status, methods=["GET"]),
        Route("/api/jobs/{jid}/strokes", job_strokes, methods=["GET"]),
        Route("/api/jobs/{jid}/retouch", job_retouch, methods=["POST"]),
        Route("/api/jobs/{jid}/delete", job_delete, methods=["POST"]),
        Route("/api/jobs/{jid}/view/{name}.png", job_view, methods=["GET"]),
        Route("/api/jobs/{jid}/download/{name}", job_download, methods=["GET"]),
    ]
    async def too_large(request: Request, exc: Exception) -> Response:
        return _err(413, f"request body exceeds the {cfg.max_upload_bytes}-byte limit")

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={_TooLarge: too_large})
    app.state.store = jobs
    app.state.config = cfg
    guarded = Guard(app, cfg)
    guarded.state = app.state  # type: ignore[attr-defined]
    return guarded
