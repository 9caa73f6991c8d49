"""``mfif methods``: list the registered fusion methods."""

from __future__ import annotations

import argparse


def _cmd(args: argparse.Namespace) -> int:
    from mfif.fusion.methods import default_method
    from mfif.fusion.methods import has_weights
    from mfif.registry import list_methods

    default = default_method()
    shown = [m for m in list_methods() if not m.name.startswith("_")]
    width = max(len(m.name) for m in shown)
    for m in shown:
        flag = "*" if m.name == default else " "
        status = ""
        if m.needs_weights:
            status = " [weights installed]" if has_weights(m.name) else " [no weights installed: use --weights]"
        print(f"{flag} {m.name:{width}s} {m.description}{status}")
    print("(* = default)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("methods", help="list fusion methods")
    p.set_defaults(func=_cmd)
