"""Z-stacks larger than memory: Zarr / OME-Zarr / TIFF stacks fused with ``dask.array``.

The stack is read lazily (``Z × Y × X`` or ``Z × Y × X × 3``, any of uint8, uint16 or float) and cut
into chunks that span all of z and tile y/x. Each chunk is fused with its neighbours' ``overlap``
pixels around it (``dask.array.map_overlap``, no padding at the image border, so border chunks see the
true image edge exactly like the in-memory fusion) by :func:`mfif.api.fuse`, and only the chunk's own
pixels are kept. With an overlap at least the support radius of the method, a chunk's pixels equal
those of the in-memory fusion of the whole stack:

* learned methods: the default overlap is the generator's receptive-field radius
  (:func:`mfif.fusion.tiling.default_overlap`: 40 px for the lite model, 88 for the paper model). Two
  whole-image steps cannot be reproduced per chunk: the squeeze-and-excitation pooling of each
  residual block averages over the chunk window instead of the whole image, and the small-region
  removal sees regions only within the window (its area threshold is kept at ``min_region_ratio`` of
  the whole image's area). The result therefore differs from the in-memory fusion at a small fraction
  of pixels (measured in the tests and docs/dask.md);
* classical methods: :data:`CLASSICAL_OVERLAP` (64 px) by default, which covers the local methods'
  support (``laplacian-argmax``: Laplacian 1 + box window 3 + median 3 = 7 px with the defaults); for
  such methods the result is exactly the in-memory fusion. Methods with whole-image steps (e.g.
  quadtree's block search) are computed per window and are approximations.

The output is an OME-Zarr (NGFF 0.4) image: the fused plane at ``0`` (axes ``y x``, or ``c y x`` for
colour, at the input's bit depth) and the depth map (the index of the chosen frame per pixel) as the
label image ``labels/depth/0``. It is written into a hidden folder beside the target and renamed into
place when complete. With ``align``, the frames are registered to the first once, on a block-averaged
copy (:func:`estimate_volume_alignment`), and each chunk resamples its frames with those transforms.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from mfif.distributed import require_dask
from mfif.errors import MfifError

#: Default overlap for classical methods (pixels on each side of a chunk).
CLASSICAL_OVERLAP = 64
#: Default chunk size (y and x) in pixels.
DEFAULT_CHUNK = 1024
#: NGFF version written.
NGFF_VERSION = "0.4"


def to_unit(block: np.ndarray) -> np.ndarray:
    """Samples as float32 in [0, 1] (uint8 / 255, uint16 / 65535, floats clipped), as :func:`mfif.io.read_image`."""
    if block.dtype == np.uint8:
        return block.astype(np.float32) / 255.0
    if block.dtype == np.uint16:
        return block.astype(np.float32) / 65535.0
    if np.issubdtype(block.dtype, np.floating):
        return np.clip(block.astype(np.float32), 0.0, 1.0)
    raise MfifError(f"volume: unsupported sample type {block.dtype} (use uint8, uint16 or float)")


def bit_depth_of(dtype: np.dtype) -> int:
    """Bit depth of the fused output for a stack of ``dtype``: 8 for uint8, else 16."""
    return 8 if np.dtype(dtype) == np.uint8 else 16


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------


def _to_zyx(arr: Any, axes: str, path: Path) -> Any:
    """Reorder a dask array with named axes (t c z y x / TIFF letters) to Z × Y × X [× 3]."""
    axes = axes.lower().replace("q", "z").replace("i", "z").replace("s", "c")
    if len(axes) != arr.ndim:
        raise MfifError(f"{path}: axes {axes!r} do not match the array's {arr.ndim} dimensions")
    for ax in list(axes):
        if ax not in "tczyx":
            raise MfifError(f"{path}: unknown axis {ax!r} in {axes!r}")
    if "z" not in axes:  # one non-spatial axis of size > 1 is the focus axis
        if "t" not in axes or arr.shape[axes.index("t")] < 2:
            raise MfifError(f"{path}: no z axis among {axes!r}")
        axes = axes.replace("t", "z")
    for ax in "tc":
        if ax in axes and (ax == "t" or arr.shape[axes.index(ax)] == 1):
            if arr.shape[axes.index(ax)] != 1:
                raise MfifError(f"{path}: axis {ax!r} has {arr.shape[axes.index(ax)]} entries; give one z-stack")
            arr = arr[(slice(None),) * axes.index(ax) + (0,)]
            axes = axes.replace(ax, "")
    order = [axes.index(a) for a in "zyx"] + ([axes.index("c")] if "c" in axes else [])
    arr = arr.transpose(order)
    if arr.ndim == 4 and arr.shape[3] not in (3,):
        raise MfifError(f"{path}: {arr.shape[3]} channels; volumes are gray or RGB")
    return arr


class LazyTiff:
    """A TIFF's first series (level 0) as an array-like that reads only the requested region.

    Reads go through tifffile's Zarr store of the file (strips or tiles decoded on demand), opened
    once per process; only the path travels to Dask workers, so the object pickles.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        z = self._zarr()
        self.shape, self.dtype, self.ndim = tuple(z.shape), np.dtype(z.dtype), len(z.shape)
        self.chunks = tuple(z.chunks)

    def _zarr(self) -> Any:
        z = getattr(self, "_z", None)
        if z is None:
            import tifffile
            import zarr

            z = zarr.open(tifffile.imread(self.path, aszarr=True, level=0), mode="r")
            self._z = z
        return z

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._zarr()[key])

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_z"}


def open_stack(path: str | os.PathLike[str]) -> Any:
    """A z-stack as a lazy ``dask.array`` of shape Z × Y × X (gray) or Z × Y × X × 3 (RGB).

    Args:
        path: A Zarr array, an OME-Zarr image (its full-resolution level, axes from ``multiscales``),
            or a (multi-page, OME or ImageJ) TIFF read lazily through tifffile's Zarr store.

    Returns:
        ``dask.array.Array`` of the stored dtype (uint8, uint16 or float), chunked as stored.

    Raises:
        MfifError: missing file, unknown layout, or not a single z-stack.
    """
    require_dask("volume fusion")
    import dask.array as da
    import zarr

    p = Path(path)
    if not p.exists():
        raise MfifError(f"{p}: not found")
    if p.is_file() and p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(p) as tif:
                axes = tif.series[0].axes
            lazy = LazyTiff(p)
        except Exception as exc:  # noqa: BLE001 - any reader failure is one line
            raise MfifError(f"{p}: cannot read the TIFF lazily ({type(exc).__name__}: {exc})") from None
        return _to_zyx(da.from_array(lazy, chunks=lazy.chunks, lock=False, asarray=True), axes, p)
    try:
        node = zarr.open(str(p), mode="r")
    except Exception as exc:  # noqa: BLE001
        raise MfifError(f"{p}: not a Zarr array or group ({type(exc).__name__}: {exc})") from None
    if hasattr(node, "shape"):
        axes = "zyx" if node.ndim == 3 else "zyxc" if node.ndim == 4 else ""
        if not axes:
            raise MfifError(f"{p}: a {node.ndim}-D array; a z-stack is Z×Y×X or Z×Y×X×3")
        return _to_zyx(da.from_zarr(node), axes, p)
    attrs = dict(node.attrs)
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not ms:
        raise MfifError(f"{p}: a Zarr group without OME 'multiscales' metadata")
    first = ms[0]
    axes = "".join(a["name"] if isinstance(a, dict) else str(a) for a in first.get("axes", []))
    arr = node[first["datasets"][0]["path"]]
    if not axes:
        axes = "tczyx"[5 - arr.ndim:]
    return _to_zyx(da.from_zarr(arr), axes, p)


# ------------------------------------------------------------------------------------------------
# fusing
# ------------------------------------------------------------------------------------------------


def axis_chunks(n: int, chunk: int, min_size: int) -> tuple[int, ...]:
    """Chunk sizes of an axis of length ``n``: ``chunk`` each, a last one shorter than ``min_size`` merged."""
    sizes = [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])
    if len(sizes) > 1 and sizes[-1] < min_size:
        last = sizes.pop()
        sizes[-1] += last
    return tuple(sizes)


def default_volume_overlap(method: str, *, weights: str | None = None, device: str = "auto") -> int:
    """Overlap for ``method``: the generator's receptive radius (learned), else :data:`CLASSICAL_OVERLAP`."""
    from mfif.registry import get_method

    info = get_method(method)
    if not info.needs_weights:
        return CLASSICAL_OVERLAP
    from mfif.fusion import methods as fm
    from mfif.fusion.tiling import default_overlap

    if method == "mfif-stack":  # same branch and decoder depth as the pair generator
        from mfif.fusion.stack_native import _cached
        from mfif.models.runtime import resolve_device

        return default_overlap(_cached(str(weights) if weights is not None else None, str(resolve_device(device))))
    base = getattr(fm, "_VARIANT_OF", {}).get(method, method)
    return default_overlap(fm.get_generator(base, weights, device))


def _fuse_block(block: np.ndarray, *, r: int, hw: tuple[int, int], kwargs: dict[str, Any], learned: bool,
                starts: tuple[tuple[int, ...], tuple[int, ...]] = ((), ()), warps: list | None = None,
                block_info: Any = None) -> np.ndarray:
    """Fuse one overlapped chunk; returns ``(2, h, w[, 3])`` float32: [0] fused, [1] depth index (cropped).

    With ``warps`` (one 3×3 homography per frame, full-resolution pixel coordinates of frame 0 → frame
    k), each frame is first resampled into frame 0's geometry within the chunk's window.
    """
    import warnings

    from mfif.api import fuse

    info = block_info[0]
    (iy, ix), (ny, nx) = info["chunk-location"][1:3], info["num-chunks"][1:3]
    frames = [to_unit(np.asarray(f)) for f in block]
    if warps is not None:
        from mfif.fusion.align import warp_to

        y0w = starts[0][iy] - (r if iy > 0 else 0)  # the window's origin in image coordinates
        x0w = starts[1][ix] - (r if ix > 0 else 0)
        t = np.array([[1.0, 0.0, x0w], [0.0, 1.0, y0w], [0.0, 0.0, 1.0]])
        ti = np.linalg.inv(t)
        frames = [f if k == 0 else warp_to(f, ti @ warps[k] @ t, f.shape[:2]) for k, f in enumerate(frames)]
    kw = dict(kwargs)
    if learned:  # keep the small-region threshold at the whole image's area
        h, w = block.shape[1:3]
        ratio = float(kw.get("min_region_ratio", 0.001)) * hw[0] * hw[1] / (h * w)
        kw["min_region_ratio"] = min(ratio, 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fuse(frames, **kw)
    if res.depth_map is not None:
        depth = res.depth_map.astype(np.float32)
    elif res.decision_map is not None:
        depth = np.where(res.decision_map > 0.5, 0, 1).astype(np.float32)
    else:
        raise MfifError(f"volume: method {kw.get('method')!r} gives no depth or decision map")
    fused = res.fused.astype(np.float32)
    if fused.ndim == 3:
        depth = np.broadcast_to(depth[..., None], fused.shape)
    y0, x0 = (r if iy > 0 else 0), (r if ix > 0 else 0)
    y1 = fused.shape[0] - (r if iy < ny - 1 else 0)
    x1 = fused.shape[1] - (r if ix < nx - 1 else 0)
    return np.stack([fused[y0:y1, x0:x1], depth[y0:y1, x0:x1]])


def estimate_volume_alignment(stack: Any, *, method: str = "ecc", max_size: int = 1024) -> list[np.ndarray]:
    """Homographies registering each frame to the first, estimated on a block-averaged copy.

    Args:
        stack: ``dask.array`` Z × Y × X [× 3].
        method: ``"ecc"`` or ``"homography"`` (:func:`mfif.fusion.align.estimate_stack`).
        max_size: The copy is averaged over f×f blocks, f = ceil(max(Y, X) / max_size).

    Returns:
        Z float64 3×3 matrices mapping full-resolution pixel coordinates of frame 0 into frame k.
    """
    import dask
    import dask.array as da

    from mfif.fusion.align import _scale_h, estimate_stack

    f = max(1, int(np.ceil(max(stack.shape[1:3]) / float(max_size))))
    small = stack.map_blocks(to_unit, dtype=np.float32)
    if f > 1:
        small = da.coarsen(np.mean, small, {1: f, 2: f}, trim_excess=True).astype(np.float32)
    (frames,) = dask.compute(small)
    hs = estimate_stack(list(frames), method=method)
    return [_scale_h(h, float(f)) if f > 1 else h for h in hs]


def max_displacement(warps: list[np.ndarray], hw: tuple[int, int]) -> int:
    """Largest distance in pixels that any of ``warps`` moves a corner of an image of size ``hw``."""
    h, w = hw
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64).T
    d = 0.0
    for m in warps:
        p = m @ corners
        p = p[:2] / p[2]
        d = max(d, float(np.abs(p - corners[:2]).max()))
    return int(np.ceil(d))


def fuse_volume(
    stack: Any,
    *,
    method: str | None = None,
    chunk: int = DEFAULT_CHUNK,
    overlap: int | None = None,
    align_size: int = 1024,
    **options: Any,
) -> tuple[Any, Any]:
    """Fuse a z-stack chunk by chunk (lazy).

    Args:
        stack: ``dask.array`` (or numpy) Z × Y × X or Z × Y × X × 3, uint8 / uint16 / float [0, 1], Z ≥ 2.
        method: Registry name; None = :func:`mfif.fusion.methods.default_method`.
        chunk: Chunk size in y and x (pixels, ≥ 16); chunks always span all of z.
        overlap: Pixels of context on each side of a chunk; None = :func:`default_volume_overlap`.
        align_size: With ``align`` (``"ecc"`` or ``"homography"`` in ``options``): the frames are
            registered to the first on a copy block-averaged to at most this many pixels per side
            (:func:`estimate_volume_alignment`), and each chunk warps its frames with the transforms
            scaled to full resolution; the overlap grows by the largest displacement + 3 px.
        **options: Fusion options of :func:`mfif.api.fuse` (``weights``, ``device``, ``min_region_ratio``, ...).

    Returns:
        ``(fused, depth)``: lazy ``dask.array`` s, float32 Y × X [× 3] in [0, 1] and int32 Y × X.

    Raises:
        MfifError: a bad shape, chunk or overlap.
    """
    require_dask("volume fusion")
    import dask.array as da

    from mfif.fusion.methods import default_method
    from mfif.registry import get_method

    x = stack if isinstance(stack, da.Array) else da.from_array(np.asarray(stack))
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] != 3):
        raise MfifError(f"volume: stack shape {x.shape}; expected Z×Y×X or Z×Y×X×3")
    if x.shape[0] < 2:
        raise MfifError(f"volume: {x.shape[0]} frame(s); a z-stack needs at least two")
    if int(chunk) < 16:
        raise MfifError(f"--chunk {chunk}: use at least 16 pixels")
    method = method or default_method(int(x.shape[0]), [k for k, v in options.items() if v is not None and k != "align"],
                                      weights=options.get("weights"))
    info = get_method(method)
    align = options.pop("align", "none") or "none"
    if overlap is None:
        overlap = default_volume_overlap(method, weights=options.get("weights"), device=options.get("device", "auto"))
    r = int(overlap)
    if r < 0:
        raise MfifError(f"--overlap {overlap}: must be >= 0")
    warps = None
    if align != "none":  # estimated once on a downsampled copy; the window grows by the largest shift
        warps = estimate_volume_alignment(x, method=align, max_size=align_size)
        r += max_displacement(warps, x.shape[1:3]) + 3
    if r > int(chunk):
        raise MfifError(f"--chunk {chunk}: must be at least the overlap ({r} px)")
    h, w = x.shape[1:3]
    ycs, xcs = axis_chunks(h, int(chunk), max(r, 16)), axis_chunks(w, int(chunk), max(r, 16))
    x = x.rechunk((x.shape[0], ycs, xcs) + ((3,) if x.ndim == 4 else ()))
    ry = r if len(ycs) > 1 else 0
    rx = r if len(xcs) > 1 else 0
    depth = {0: 0, 1: ry, 2: rx}
    if x.ndim == 4:
        depth[3] = 0
    out_chunks = ((2,), ycs, xcs) + (((3,),) if x.ndim == 4 else ())
    out = da.map_overlap(
        _fuse_block, x, depth=depth, boundary="none", trim=False, dtype=np.float32, chunks=out_chunks,
        meta=np.empty((0,) * x.ndim, np.float32), r=r, hw=(h, w),
        kwargs={"method": method, **options}, learned=bool(info.needs_weights),
        starts=(tuple(np.cumsum((0,) + ycs[:-1]).tolist()), tuple(np.cumsum((0,) + xcs[:-1]).tolist())),
        warps=warps,
    )
    # map_overlap passes one r for both axes; a single-chunk axis has no neighbours, so nothing is cropped
    fused = out[0]
    dmap = (out[1, ..., 0] if x.ndim == 4 else out[1]).astype(np.int32)
    return fused, dmap


# ------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------


def _create(group: Any, name: str, *, shape: tuple, chunks: tuple, dtype: Any) -> Any:
    if hasattr(group, "create_array"):  # zarr 3
        return group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
    return group.create_dataset(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)  # zarr 2


def _multiscales(name: str, axes: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{
        "version": NGFF_VERSION,
        "name": name,
        "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * len(axes)}]}],
    }]


def write_ome_zarr(
    path: str | os.PathLike[str],
    fused: Any,
    depth: Any,
    *,
    bit_depth: int = 16,
    n_frames: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    overwrite: bool = False,
    client: Any = None,
) -> Path:
    """Compute and write the fused plane and depth map as one OME-Zarr image, atomically.

    Args:
        path: Target folder (``NAME.zarr``); refused when it exists unless ``overwrite``.
        fused: float32 Y × X [× 3] in [0, 1] (lazy or numpy), stored at ``bit_depth`` (8 or 16; rounded).
        depth: int Y × X, stored as the label image ``labels/depth`` (int32).
        n_frames: Frames in the stack (recorded as the label's value range).
        chunk: Stored chunk size in y and x.
        overwrite: Replace an existing target.
        client: A ``distributed.Client`` to compute on; None = dask's current scheduler.

    Returns:
        The target path.
    """
    require_dask("volume fusion")
    import dask
    import dask.array as da
    import zarr

    target = Path(path)
    if target.exists() and not overwrite:
        raise MfifError(f"{target}: exists (use --overwrite to replace it)")
    if not target.parent.is_dir():
        raise MfifError(f"{target}: output folder {target.parent} does not exist")
    if bit_depth not in (8, 16):
        raise MfifError(f"bit_depth must be 8 or 16, got {bit_depth}")
    fused = fused if isinstance(fused, da.Array) else da.from_array(np.asarray(fused))
    depth = depth if isinstance(depth, da.Array) else da.from_array(np.asarray(depth))
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    scale = 255.0 if bit_depth == 8 else 65535.0
    q = da.round(da.clip(fused, 0, 1) * scale).astype(dtype)
    rgb = q.ndim == 3
    if rgb:
        q = q.transpose(2, 0, 1)
    tmp = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:12]}"
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=2) if _zarr3() else zarr.open_group(str(tmp), mode="w")
        spatial = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
        axes = ([{"name": "c", "type": "channel"}] if rgb else []) + spatial
        c = min(chunk, max(q.shape[-2:]))
        zf = _create(root, "0", shape=q.shape, chunks=((3,) if rgb else ()) + (c, c), dtype=dtype)
        labels = root.require_group("labels")
        dg = labels.require_group("depth")
        zd = _create(dg, "0", shape=depth.shape, chunks=(c, c), dtype=np.int32)
        root.attrs["multiscales"] = _multiscales("fused", axes)
        if rgb:
            root.attrs["omero"] = {"channels": [{"label": n, "color": col, "window": {"start": 0, "end": scale}}
                                               for n, col in (("R", "FF0000"), ("G", "00FF00"), ("B", "0000FF"))]}
        labels.attrs["labels"] = ["depth"]
        dg.attrs["multiscales"] = _multiscales("depth", spatial)
        dg.attrs["image-label"] = {"version": NGFF_VERSION, "source": {"image": "../../"},
                                   "properties": [{"label-value": k, "frame": k} for k in range(n_frames or 0)]}
        stored = da.store([q, depth.astype(np.int32)], [zf, zd], lock=False, compute=False)
        if client is not None:
            client.gather(client.compute(stored))
        else:
            dask.compute(stored)
        if target.exists():  # overwrite: swap in, then drop the old one
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _zarr3() -> bool:
    import zarr

    return int(zarr.__version__.split(".")[0]) >= 3
