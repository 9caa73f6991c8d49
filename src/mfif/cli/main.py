"""The ``mfif`` command line: a thin layer over the Python API.

Each subcommand lives in its own module ``mfif.cli.<name>`` exposing ``register(subparsers)``;
the module sets ``func`` on its parser via ``set_defaults(func=...)``. ``func(args) -> int`` returns
the exit code. :class:`~mfif.errors.MfifError` becomes a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Sequence

from mfif import __version__
from mfif.errors import MfifError

# Subcommand modules, in help order.
SUBCOMMAND_MODULES = (
    "fuse",
    "demo",
    "methods",
    "batch",
    "volume",
    "metrics",
    "data",
    "synth",
    "train",
    "bench",
    "serve",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``mfif`` parser with every subcommand, or with subcommand ``only`` alone (what ``main`` builds
    when the command line names one: the other modules are not imported, ~25 ms of a start)."""
    parser = argparse.ArgumentParser(
        prog="mfif",
        description="Multi-focus image fusion: MFIF-GAN, classical baselines, metrics and benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"mfif {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES if only is None else (only,):
        importlib.import_module(f"mfif.cli.{name}").register(sub)
    return parser


def _showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    print(f"mfif: note: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfif`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"] or argv[:1] == ["-V"]:
        print(f"mfif {__version__}")
        return 0
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMAND_MODULES else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    warnings.showwarning = _showwarning
    try:
        return int(args.func(args) or 0)
    except MfifError as exc:
        print(f"mfif: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `mfif methods | head`
        return 0
    except KeyboardInterrupt:
        print("mfif: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line (MFIF_DEBUG=1 shows the traceback), not a wall of text
        import os

        if os.environ.get("MFIF_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"mfif: error: unexpected {type(exc).__name__}: {msg} (a bug; MFIF_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
