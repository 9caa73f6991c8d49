"""``mfif serve``: the local web app (fuse, inspect, retouch in a browser; docs/web.md)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import warnings

from mfif.errors import MfifError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _cmd(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from mfif.web.app import WebConfig, create_app
    except ModuleNotFoundError as exc:
        raise MfifError(f"mfif serve needs the web extra ({exc.name} is missing): pip install 'mfif[web]'") from None
    for flag, val, lo in (("--port", args.port, 0), ("--workers", args.workers, 1), ("--queue", args.queue, 1),
                          ("--max-upload-mb", args.max_upload_mb, 1), ("--max-megapixels", args.max_megapixels, 1),
                          ("--cache-mb", args.cache_mb, 16)):
        if val < lo:
            raise MfifError(f"{flag} must be >= {lo}, got {val}")
    if args.port > 65535:
        raise MfifError(f"--port must be <= 65535, got {args.port}")
    host = args.host if args.host is not None else "127.0.0.1"
    loopback = _is_loopback(host)
    if args.host is not None and not loopback:
        warnings.warn(f"--host {host}: the app is reachable from other machines; it has no login, and anyone who "
                      "can reach it can upload images and run fusions", stacklevel=1)
    cfg = WebConfig(
        max_upload_bytes=int(args.max_upload_mb) << 20,
        max_pixels=int(args.max_megapixels * 1_000_000),
        max_total_pixels=int(args.max_megapixels * 1_000_000) * 4,
        workers=args.workers,
        queue_size=args.queue,
        cap_bytes=int(args.cache_mb) << 20,
        device=args.device,
        loopback_only=loopback,
    )
    sock = _bind(host, args.port)
    port = sock.getsockname()[1]
    app = create_app(cfg)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    shown = "localhost" if host == "127.0.0.1" else host
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown  # IPv6 literal
    print(f"mfif serve: open http://{shown}:{port}/ (Ctrl+C stops; results are deleted on exit)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free one); one-line error when taken."""
    addr = host.strip("[]")
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise MfifError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return sock


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="local web app: drop images, fuse, inspect, retouch",
                       description="Start the local web app (docs/web.md). Listens on 127.0.0.1 unless --host is given.")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1, this machine only; "
                   "anything else exposes the app to the network, with a warning)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    p.add_argument("--workers", type=int, default=2, help="fusion jobs run at the same time (default 2)")
    p.add_argument("--queue", type=int, default=64, help="jobs that may wait for a worker (default 64; more → 503)")
    p.add_argument("--max-upload-mb", type=int, default=256, help="largest upload request, MiB (default 256; more → 413)")
    p.add_argument("--max-megapixels", type=float, default=64.0,
                   help="largest decoded image, megapixels (default 64; a job may hold 4x that in total)")
    p.add_argument("--cache-mb", type=int, default=2048,
                   help="size cap of the temporary results folder, MiB (default 2048; oldest finished jobs are removed)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (learned methods)")
    p.set_defaults(func=_cmd)


