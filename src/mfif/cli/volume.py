"""``mfif volume``: fuse a z-stack stored as Zarr / OME-Zarr / TIFF on Dask into an OME-Zarr (docs/dask.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mfif.errors import MfifError


def _cmd(args: argparse.Namespace) -> int:
    from mfif.cli.fuse import fusion_kwargs
    from mfif.distributed.batch import check_engine_options
    from mfif.distributed.cluster import DEFAULT_CONNECT_TIMEOUT, cpu_count, make_model_plugin, open_client
    from mfif.distributed.volume import (
        DEFAULT_CHUNK,
        bit_depth_of,
        fuse_volume,
        open_stack,
        write_ome_zarr,
    )

    args.engine = "dask"
    check_engine_options(args)
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise MfifError(f"{out}: exists (use --overwrite to replace it)")
    stack = open_stack(args.input)
    kw = fusion_kwargs(args, n_sources=int(stack.shape[0]))
    for k in ("tile", "tile_overlap"):
        if kw.pop(k, None) is not None:
            raise MfifError(f"--{k.replace('_', '-')}: the volume is already cut into --chunk tiles")
    method = kw.pop("method")
    chunk = args.chunk or DEFAULT_CHUNK
    embedded = args.scheduler is None
    jobs = args.jobs if args.jobs is not None else cpu_count()
    timeout = DEFAULT_CONNECT_TIMEOUT if args.connect_timeout is None else args.connect_timeout
    with open_client(scheduler=args.scheduler, jobs=jobs if embedded else None, connect_timeout=timeout,
                     what="mfif volume") as client:
        client.register_plugin(make_model_plugin({"method": method, **kw},
                                                 torch_threads=max(1, cpu_count() // jobs) if embedded else None))
        if args.align_size < 16:
            raise MfifError(f"--align-size {args.align_size}: use at least 16 pixels")
        fused, depth = fuse_volume(stack, method=method, chunk=chunk, overlap=args.overlap,
                                   align_size=args.align_size, **kw)
        print(f"volume: {stack.shape[0]} frames of {stack.shape[1]}x{stack.shape[2]}"
              f"{' RGB' if stack.ndim == 4 else ''} ({stack.dtype}); {method}; chunks {fused.chunks[0][0]}x"
              f"{fused.chunks[1][0]} px over {len(fused.chunks[0]) * len(fused.chunks[1])} task(s)", file=sys.stderr)
        write_ome_zarr(out, fused, depth, bit_depth=bit_depth_of(stack.dtype), n_frames=int(stack.shape[0]),
                       chunk=chunk, overwrite=args.overwrite, client=client)
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from mfif.cli.fuse import add_fusion_options

    p = sub.add_parser(
        "volume",
        help="fuse a large z-stack (Zarr / OME-Zarr / TIFF) on Dask into an OME-Zarr",
        description="Fuse a z-stack too large for memory: INPUT (a Zarr array, an OME-Zarr image or a TIFF, "
        "read lazily) is cut into chunks that span all of z and tile y/x, each fused with OVERLAP pixels of "
        "context by a Dask worker; OUTPUT is an OME-Zarr with the fused plane and the depth map as the label "
        "image labels/depth. Needs the extra mfif[dask]; see docs/dask.md.",
    )
    p.add_argument("input", metavar="INPUT", help="z-stack: NAME.zarr (array or OME-Zarr image) or a multi-page TIFF")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="OME-Zarr to write (NAME.zarr)")
    p.add_argument("--chunk", type=int, default=None, metavar="PX", help="chunk size in y and x (default 1024)")
    p.add_argument("--overlap", type=int, default=None, metavar="PX",
                   help="context pixels around each chunk (default: the network's receptive radius for learned "
                        "methods, 64 for classical ones)")
    p.add_argument("--align-size", type=int, default=1024, metavar="PX",
                   help="with --align: register the frames on a copy block-averaged to at most PX per side "
                        "(default 1024)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler; default: an embedded LocalCluster")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes of the embedded cluster (default: this machine's cores)")
    p.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                   help="seconds to wait for --scheduler (default 10)")
    add_fusion_options(p)
    p.set_defaults(func=_cmd)
