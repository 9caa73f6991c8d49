"""Fusion jobs of the web app: a bounded worker pool with a queue, results on disk under a size cap.

Every job lives in its own folder ``<root>/<id>`` (``id`` is a server-made UUID hex; client strings
never become paths). The worker reads the uploads with :func:`mfif.io.read_frames` (a multi-page TIFF
z-stack gives several frames), aligns and fuses
through :func:`mfif.api.fuse`, and keeps the frames, the fusion and its maps as ``.npy`` files
(never pickled) for the page, the downloads and the retouch. Finished jobs are evicted least recently
used first when a new job arrives and the folder is over its cap; the whole root is removed on :meth:`JobStore.close`.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfif.errors import MfifError
from mfif.web import retouch as rt

log = logging.getLogger("mfif.web")

ALIGN_CHOICES = ("none", "ecc", "homography")
TTA_CHOICES = (1, 2, 4, 16)
EDGE_CHOICES = ("a", "b")


class QueueFull(Exception):
    """The job queue is full (the server answers 503)."""


@dataclass
class JobParams:
    """What the client chose (validated by the app before a job is made)."""

    method: str | None = None
    align: str = "none"
    tta: int | None = None
    soft: bool = False
    edge_guide: str | None = None

    def fuse_options(self, learned: bool, device: str = "auto") -> dict[str, Any]:
        """Keyword options for :func:`mfif.api.fuse`, as the CLI would pass them (learned methods: the
        server's device and the CLI's ``amp="auto"``); an option the method does not take is left for
        the API to refuse with one :class:`MfifError`."""
        from mfif.options import AMP_DEFAULTS

        opts: dict[str, Any] = {}
        if learned:
            opts["device"] = device
            opts["amp"] = AMP_DEFAULTS["web"]
        if self.tta is not None:
            opts["tta"] = self.tta
        if self.soft:
            opts["soft"] = True
        if self.edge_guide:
            opts["edge_guide"] = self.edge_guide
        return opts


@dataclass
class Job:
    """One fusion job and, once done, its result files."""

    id: str
    folder: Path
    names: list[str]
    uploads: list[Path]
    params: JobParams
    state: str = "queued"  # queued → running → done | error
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    created: float = field(default_factory=time.time)
    touched: float = field(default_factory=time.time)
    method: str | None = None
    width: int = 0
    height: int = 0
    bit_depth: int = 8
    kind: str | None = None  # "pair" or "stack"
    maps: tuple[str, ...] = ()
    strokes: list[rt.Stroke] = field(default_factory=list)
    strokes_json: list[Any] = field(default_factory=list)
    rev: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self) -> dict[str, Any]:
        """The JSON the page polls."""
        return {
            "id": self.id,
            "state": self.state,
            "stage": self.stage,
            "progress": round(self.progress, 3),
            "error": self.error,
            "names": self.names,
            "frames": len(self.names),
            "method": self.method or self.params.method,
            "options": {"align": self.params.align, "tta": self.params.tta, "soft": self.params.soft,
                        "edge_guide": self.params.edge_guide},
            "width": self.width,
            "height": self.height,
            "bit_depth": self.bit_depth,
            "kind": self.kind,
            "maps": list(self.maps),
            "rev": self.rev,
            "strokes": len(self.strokes),
        }

    # --- stored arrays (server-chosen names only) ---
    def save(self, name: str, arr: np.ndarray) -> None:
        tmp = self.folder / f".{name}.tmp.npy"
        np.save(tmp, np.ascontiguousarray(arr), allow_pickle=False)
        tmp.replace(self.folder / f"{name}.npy")

    def load(self, name: str, *, mmap: bool = False) -> np.ndarray:
        """A stored array; ``mmap=True`` maps it read-only instead of reading it (the frames)."""
        return np.load(self.folder / f"{name}.npy", allow_pickle=False, mmap_mode="r" if mmap else None)


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


class JobStore:
    """Jobs, their queue and ``workers`` worker threads.

    Args:
        workers: Worker threads (jobs fused at the same time).
        queue_size: Jobs that may wait; beyond, :meth:`submit` raises :class:`QueueFull`.
        cap_bytes: Size cap of the results folder; finished jobs are evicted oldest-first above it.
        device: ``device`` passed to :func:`mfif.api.fuse` (a server setting, not a client one).
        root: Parent of the temporary results folder (default: the system's temp folder).
    """

    def __init__(self, *, workers: int = 2, queue_size: int = 64, cap_bytes: int = 2 << 30,
                 device: str = "auto", root: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mfif-web-", dir=root))
        # removed at close(), or when the store is collected / the interpreter exits without it
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), ignore_errors=True)
        self.cap_bytes = int(cap_bytes)
        self.device = device
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max(1, queue_size))
        self._threads = [threading.Thread(target=self._work, name=f"mfif-web-{i}", daemon=True)
                         for i in range(max(1, workers))]
        self._closed = False
        for t in self._threads:
            t.start()

    # --- public ---
    def new_job(self, names: list[str], params: JobParams) -> Job:
        """A job folder for uploads that are about to be written (not queued yet)."""
        jid = uuid.uuid4().hex
        folder = self.root / jid
        folder.mkdir()
        job = Job(id=jid, folder=folder, names=names, uploads=[], params=params)
        return job

    def submit(self, job: Job) -> None:
        """Queue a job whose uploads are written; evicts old results first if over the cap."""
        self.evict()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.discard(job)
            raise QueueFull from None
        with self._lock:
            self.jobs[job.id] = job

    def get(self, jid: str) -> Job | None:
        """The job with this id (looked up, never turned into a path), or None."""
        with self._lock:
            job = self.jobs.get(jid)
        if job is not None:
            job.touched = time.time()
        return job

    def delete(self, jid: str) -> bool:
        """Remove a finished job and its files; False if unknown or still queued/running."""
        with self._lock:
            job = self.jobs.get(jid)
            if job is None or job.state not in ("done", "error"):
                return False
            del self.jobs[jid]
        self.discard(job)
        return True

    def discard(self, job: Job) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)

    def used_bytes(self) -> int:
        return folder_bytes(self.root)

    def evict(self) -> None:
        """Drop finished jobs, least recently used first, until the folder is under its cap."""
        used = self.used_bytes()
        if used <= self.cap_bytes:
            return
        with self._lock:
            done = sorted((j for j in self.jobs.values() if j.state in ("done", "error")), key=lambda j: j.touched)
        for job in done:
            if used <= self.cap_bytes:
                break
            size = folder_bytes(job.folder)
            with self._lock:
                self.jobs.pop(job.id, None)
            self.discard(job)
            used -= size
            log.info("evicted job %s (%d bytes)", job.id, size)

    def close(self) -> None:
        """Stop the workers (after their current job) and delete every result."""
        if self._closed:
            return
        self._closed = True
        while True:  # drop what is still waiting
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=30)
        self._finalizer()

    # --- retouch ---
    def set_strokes(self, job: Job, strokes_json: list[Any]) -> int:
        """Replace the job's retouch strokes (validated); returns the new revision."""
        strokes = rt.parse_strokes(strokes_json, n_frames=len(job.names))
        with job.lock:
            job.strokes = strokes
            job.strokes_json = strokes_json
            job.rev += 1
            for p in job.folder.glob("out-*"):
                p.unlink(missing_ok=True)
            return job.rev

    def result_array(self, job: Job, what: str) -> np.ndarray:
        """``fused``, ``decision``, ``depth`` (with the retouch) or ``focus``; float32 / int32."""
        with job.lock:
            strokes = list(job.strokes)
        if what == "fused":
            fused = job.load("fused")
            return rt.compose(fused, job.load("frames", mmap=True), strokes) if strokes else fused
        if what == "decision":
            return rt.edited_decision_map(job.load("decision"), strokes)
        if what == "depth":
            return rt.edited_depth_map(job.load("depth"), strokes)
        if what == "focus":
            return job.load("focus")
        raise KeyError(what)

    # --- worker ---
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except MfifError as exc:
                job.error = str(exc)
                job.state = "error"
            except Exception as exc:  # noqa: BLE001 - shown to the user, logged with the traceback
                log.exception("job %s failed", job.id)
                msg = str(exc).splitlines()[0] if str(exc) else ""
                job.error = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
                job.state = "error"
            finally:
                job.touched = time.time()
                for p in job.uploads:
                    p.unlink(missing_ok=True)
                if job.state == "error":
                    job.stage = "failed"

    def _stage(self, job: Job, stage: str, progress: float) -> None:
        job.stage, job.progress = stage, progress

    def _run(self, job: Job) -> None:
        from mfif.api import fuse
        from mfif.fusion.methods import default_method
        from mfif.io import harmonize, read_frames
        from mfif.registry import get_method

        job.state = "running"
        n = len(job.uploads)
        imgs, infos, frame_names = [], [], []
        for i, (path, name) in enumerate(zip(job.uploads, job.names)):
            self._stage(job, f"reading {i + 1}/{n}", 0.3 * i / n)
            try:
                frames = read_frames(path)
            except MfifError as exc:
                raise MfifError(str(exc).replace(str(path), name)) from None
            for img, info in frames:
                imgs.append(img)
                infos.append(info)
                frame_names.append(name if info.n_frames == 1 else f"{name}[frame {info.frame}]")
        if len(imgs) < 2:
            raise MfifError(f"{job.names[0]}: holds one image; fusion needs at least two frames")
        job.names = frame_names
        name = job.params.method or default_method(len(imgs))
        info = get_method(name)
        job.method = name
        if job.params.align != "none":
            from mfif.fusion.align import align_stack

            self._stage(job, f"aligning ({job.params.align})", 0.3)
            imgs = align_stack(imgs, method=job.params.align)
        frames, all_gray = harmonize(imgs, job.names)
        self._stage(job, f"fusing ({name})", 0.5)
        result = fuse(frames, method=name, align="none", names=job.names,
                      **job.params.fuse_options(info.accepts("device"), self.device))
        self._stage(job, "saving", 0.95)
        first = infos[0]
        if all_gray:
            frames = [f[..., 0] if f.ndim == 3 else f for f in frames]
        job.save("frames", np.stack(frames).astype(np.float32))
        job.save("fused", result.fused.astype(np.float32))
        maps = []
        if len(frames) == 2 and result.decision_map is not None:
            job.save("decision", result.decision_map.astype(np.float32))
            maps.append("decision")
        depth = result.depth_map
        if depth is None and result.decision_map is not None:
            depth = np.where(result.decision_map > 0.5, 0, 1)
        if depth is not None:
            job.save("depth", depth.astype(np.int32))
            maps.append("depth")
        if result.focus_map is not None:
            job.save("focus", result.focus_map.astype(np.float32))
            maps.append("focus")
        meta = {"bit_depth": max(i.bit_depth for i in infos),
                "file": {"resolution": list(first.resolution) if getattr(first, "resolution", None) else None,
                         "resolution_unit": getattr(first, "resolution_unit", None),
                         "physical_size": dict(getattr(first, "physical_size", None) or {})},
                "description": getattr(first, "description", None)}
        if first.exif:
            (job.folder / "exif.bin").write_bytes(first.exif)
        if first.icc_profile:
            (job.folder / "icc.bin").write_bytes(first.icc_profile)
        (job.folder / "meta.json").write_text(json.dumps(meta))
        job.height, job.width = result.fused.shape[:2]
        job.bit_depth = meta["bit_depth"]
        job.kind = "pair" if len(frames) == 2 else "stack"
        job.maps = tuple(maps)
        job.progress = 1.0
        job.stage = "done"
        job.state = "done"

    def metadata(self, job: Job) -> tuple[bytes | None, bytes | None]:
        """EXIF and ICC bytes of the first source (carried into the result like the CLI does)."""
        ex = job.folder / "exif.bin"
        icc = job.folder / "icc.bin"
        return (ex.read_bytes() if ex.exists() else None, icc.read_bytes() if icc.exists() else None)

    def file_metadata(self, job: Job) -> tuple[dict[str, Any], str | None]:
        """``(meta, description)`` of the first source as ``mfif fuse`` writes them: resolution,
        its unit and physical size (every output), and the description (the fused image)."""
        data = json.loads((job.folder / "meta.json").read_text())
        meta = dict(data.get("file", {}))
        if meta.get("resolution") is not None:
            meta["resolution"] = tuple(meta["resolution"])
        return meta, data.get("description")
