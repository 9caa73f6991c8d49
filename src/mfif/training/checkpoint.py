"""Full training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is a folder::

    CKPT/
      state.safetensors   G.*, G_ema.*, D.* weights; optG/<param>/<key>, optD/... optimizer tensors;
                          rng/torch, rng/cuda<k> generator states (uint8)
      state.json          {"format": "mfif-train-ckpt-v1", "step", "config", "optimizers":
                           {"optG": {"param_groups": [...], "scalars": {...}}}, "extra": {...}}
      config.yaml         the resolved config (human-readable copy)

The folder is written to a temporary sibling and swapped in, so an interrupted save never damages
the previous checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from mfif.errors import MfifError
from mfif.io import publish

FORMAT = "mfif-train-ckpt-v1"
STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


def flatten_optimizer(prefix: str, opt_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-able tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}/{pid}/{k}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    groups = []
    for g in opt_state["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if not key.startswith(prefix + "/"):
            continue
        _, pid, k = key.split("/", 2)
        state.setdefault(int(pid), {})[k] = v
    for pid, st in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    groups = []
    for g in meta["param_groups"]:
        groups.append({k: (tuple(v) if k == "betas" else v) for k, v in g.items()})
    return {"state": state, "param_groups": groups}


def _swap_in(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.parent / f".old-{target.name}-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    publish(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    target: str | os.PathLike[str],
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    *,
    config_yaml: str,
) -> Path:
    """Write a checkpoint folder atomically (see module docstring)."""
    from safetensors.torch import save_file

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        save_file(clean, str(tmp / STATE_TENSORS), metadata={"format": FORMAT})
        (tmp / STATE_JSON).write_text(json.dumps({"format": FORMAT, **meta}, indent=1))
        (tmp / "config.yaml").write_text(config_yaml)
        _swap_in(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint folder, or a run folder (→ its ``checkpoints/last``)."""
    p = Path(path)
    if (p / STATE_JSON).is_file():
        return p
    if (p / "checkpoints" / "last" / STATE_JSON).is_file():
        return p / "checkpoints" / "last"
    if not p.exists():
        raise MfifError(f"{p}: checkpoint not found")
    raise MfifError(f"{p}: not a training checkpoint (no {STATE_JSON})")


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any], Path]:
    """Read a checkpoint folder → (tensors, meta, folder). Raises MfifError on anything malformed."""
    from safetensors import safe_open

    d = resolve_checkpoint(path)
    jp = d / STATE_JSON
    try:
        meta = json.loads(jp.read_text())
    except (OSError, ValueError) as exc:
        raise MfifError(f"{jp}: unreadable checkpoint state ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise MfifError(f"{jp}: not an {FORMAT} checkpoint")
    for key in ("step", "config", "optimizers"):
        if key not in meta:
            raise MfifError(f"{jp}: checkpoint state lacks {key!r}")
    tp = d / STATE_TENSORS
    if not tp.is_file():
        raise MfifError(f"{tp}: checkpoint tensors missing")
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(tp), framework="pt") as fh:
            for k in fh.keys():
                tensors[k] = fh.get_tensor(k)
    except Exception as exc:  # safetensors raises various types for garbage input
        raise MfifError(f"{tp}: unreadable checkpoint tensors ({type(exc).__name__})") from None
    return tensors, meta, d


def prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def check_module_state(module: torch.nn.Module, state: dict[str, torch.Tensor], *, where: str, what: str) -> None:
    """Raise MfifError unless ``state`` has exactly the keys and shapes of ``module``."""
    from mfif.models.weights import state_mismatch

    missing, unexpected, wrong = state_mismatch(module.state_dict(), state)
    if missing or unexpected or wrong:
        ex = (missing or unexpected or wrong)[0]
        raise MfifError(
            f"{where}: {what} weights do not fit the configured network ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong)} of wrong shape, e.g. {ex})"
        )
