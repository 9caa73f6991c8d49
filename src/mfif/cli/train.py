"""``mfif train``: train the MFIF-GAN generator (see docs/training.md).

Examples::

    mfif train --config lite --pack packs/mf-voc --out runs/lite --set max_minutes=240
    mfif train --config paper --pack packs/mf-voc --out runs/paper
    mfif train --resume runs/lite --out runs/lite --set steps=60000
    torchrun --nproc_per_node 4 -m mfif train --config fast --pack packs/mf-voc --out runs/fast
    mfif train --config stack --out runs/stack --max-minutes 60   # the stack model (mfif-stack)
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the MFIF-GAN generator (paper recipe, ablations, L1-only lite model)",
        description="Train the MFIF-GAN generator on a data pack. Configs: paper, fast, lite, tiny "
        "(shipped names) or a YAML path; --set key=value overrides any field.",
    )
    p.add_argument("--config", help="YAML config path or shipped name (paper, fast, lite, gpu9min, tiny: src/mfif/configs); "
                   "default: the checkpoint's config with --resume, else the built-in defaults")
    p.add_argument("--out", required=True, help="run folder (log.csv, checkpoints/last, best/, final/)")
    p.add_argument("--pack", help="training pack folder (same as --set pack=PATH)")
    p.add_argument("--steps", type=int, help="total iterations (same as --set steps=N)")
    p.add_argument("--max-minutes", type=float, help="stop after this wall time (same as --set max_minutes=M)")
    p.add_argument("--resume", metavar="CKPT", help="checkpoint folder or run folder to continue from")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set lr_g=1e-3 --set sigma=[0.8,2]")
    p.set_defaults(func=run)


#: Configs with a ``kind:`` field train another model than the MFIF-GAN generator: kind -> (module, config
#: loader, train function). The loader takes (yaml dict, overrides, where=...) and returns the config;
#: the train function takes (config, out folder) and returns a JSON-able summary.
KINDS: dict[str, tuple[str, str, str]] = {
    "stack": ("mfif.training.stack_trainer", "load_stack_config", "train_stack"),
    "fusegan": ("mfif.training.fusegan_trainer", "load_fusegan_config", "train_fusegan"),
    "cnn": ("mfif.training.cnn_liu_trainer", "load_cnn_config", "train_cnn"),
    "mmf-net": ("mfif.training.mmf_net_trainer", "load_mmf_net_config", "train_mmf_net"),
}


def _kind_config(config: str, overrides: list[str], max_minutes: float | None, steps: int | None):  # noqa: ANN202
    """(config, train function) of a run whose YAML names a ``kind`` (e.g. ``stack``), else None."""
    import importlib

    from mfif.errors import MfifError
    from mfif.training.config import _parse_yaml_text, resolve_config_path

    p = resolve_config_path(config)
    d = _parse_yaml_text(p.read_text(), str(p))
    kind = d.get("kind")
    if kind is None:
        return None
    if kind not in KINDS:
        raise MfifError(f"{p}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    module, loader, trainer = KINDS[kind]
    mod = importlib.import_module(module)
    extra = [f"max_minutes={max_minutes}"] if max_minutes is not None else []
    extra += [f"steps={steps}"] if steps is not None else []
    return getattr(mod, loader)(d, [*overrides, *extra], where=str(p)), getattr(mod, trainer)


def run(args: argparse.Namespace) -> int:
    from mfif.training.config import load_config
    from mfif.training.trainer import Trainer, config_from_checkpoint

    overrides = list(args.overrides)
    if args.config and not args.resume:
        kind = _kind_config(args.config, overrides, args.max_minutes, args.steps)
        if kind is not None:
            cfg, train = kind
            print(json.dumps(train(cfg, args.out), indent=1, default=float))
            return 0
    if args.pack is not None:
        overrides.append(f"pack={args.pack}")
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    if args.max_minutes is not None:
        overrides.append(f"max_minutes={args.max_minutes}")
    if args.resume and not args.config:
        cfg = config_from_checkpoint(args.resume, overrides)
    else:
        cfg = load_config(args.config, overrides)
    trainer = Trainer(cfg, args.out, resume=args.resume)
    try:
        summary = trainer.train()
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if trainer.rank == 0:
        print(json.dumps(summary, indent=1, default=float))
    return 0
