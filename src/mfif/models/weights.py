"""Saving and loading generator weights as safetensors (never pickle).

A weights set is one file ``NAME.safetensors`` or shards ``NAME-00001-of-00003.safetensors`` (each
≤ ``shard_mib`` MiB) in one folder. Every file carries the metadata key ``mfif_config`` (JSON of
:class:`~mfif.models.generator.GeneratorConfig`) plus free-form provenance keys.
Shipped weights live in the package folder ``mfif/weights/``.

Importing this module does not import torch: :func:`load_numpy_generator` reads a weights set into the
torch-free :class:`~mfif.models.numpy_net.NumpyGenerator` (the CPU path of small networks); torch is
imported by the functions that build or write torch modules.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfif.errors import MfifError
from mfif.io import publish

if TYPE_CHECKING:
    import numpy as np
    import torch

    from mfif.models.generator import Generator, GeneratorConfig
    from mfif.models.numpy_net import NumpyGenerator

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_SHARD_RE = re.compile(r"^(?P<name>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.safetensors$")


def installed_weights(name: str, *, directory: Path | None = None) -> list[Path]:
    """Files of the weights set ``name`` in ``directory`` (default: the package's weights folder)."""
    d = directory or WEIGHTS_DIR
    single = d / f"{name}.safetensors"
    if single.is_file():
        return [single]
    shards = sorted(d.glob(f"{name}-*-of-*.safetensors"))
    return [p for p in shards if (m := _SHARD_RE.match(p.name)) and m.group("name") == name]


def weights_file(name: str, weights: str | os.PathLike[str] | None = None) -> str:
    """The weights file a method ``name`` uses: ``weights`` when given, else its installed file.

    Raises:
        MfifError: no file given and none installed.
    """
    if weights is not None:
        return str(weights)
    files = installed_weights(name)
    if not files:
        raise MfifError(f"{name}: no weights installed (src/mfif/weights/{name}.safetensors); give --weights PATH")
    return str(files[0])


def _resolve(path: str | os.PathLike[str]) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        if not files:
            raise MfifError(f"{p}: no .safetensors files in this folder")
        return files
    if not p.exists():
        raise MfifError(f"{p}: weights file not found")
    m = _SHARD_RE.match(p.name)
    if m:
        files = sorted(p.parent.glob(f"{m.group('name')}-*-of-{m.group('n')}.safetensors"))
        if len(files) != int(m.group("n")):
            raise MfifError(f"{p}: expected {int(m.group('n'))} shards, found {len(files)}")
        return files
    return [p]


def state_mismatch(
    own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]
) -> tuple[list[str], list[str], list[str]]:
    """Keys of a module's state dict ``own`` that ``state`` lacks, keys ``state`` has beyond them, and
    shared keys whose shapes differ: ``(missing, unexpected, wrong_shape)``."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return missing, unexpected, wrong


def read_state(path: str | os.PathLike[str] | list[Path]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a (possibly sharded) safetensors weights set into a state dict and its metadata."""
    return _read(path, "pt")


def read_state_numpy(path: str | os.PathLike[str] | list[Path]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """:func:`read_state` as numpy arrays (stored dtypes), without importing torch."""
    return _read(path, "numpy")


def _read(path: str | os.PathLike[str] | list[Path], framework: str) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    files = path if isinstance(path, list) else _resolve(path)
    state: dict[str, Any] = {}
    meta: dict[str, str] = {}
    for f in files:
        try:
            with safe_open(str(f), framework=framework) as fh:
                meta.update(fh.metadata() or {})
                for k in fh.keys():
                    state[k] = fh.get_tensor(k)
        except (SafetensorError, OSError, ValueError) as exc:
            raise MfifError(f"{f}: not a valid safetensors weights file ({str(exc).splitlines()[0]})") from None
        except Exception as exc:  # safetensors raises various types for garbage input
            raise MfifError(f"{f}: not a valid safetensors weights file ({type(exc).__name__})") from None
    return state, meta


def parameter_count(path: str | os.PathLike[str] | None = None, *, name: str = "mfif-gan") -> int:
    """Number of learned parameters of a weights set, from the safetensors headers alone (no tensor is
    read; BatchNorm running statistics and counters are not parameters).

    Raises:
        MfifError: as :func:`load_numpy_generator`.
    """
    from safetensors import safe_open

    files, _ = _files(path, name)
    n = 0
    for f in files:
        try:
            with safe_open(str(f), framework="numpy") as fh:
                for k in fh.keys():
                    if "running_" in k or k.endswith("num_batches_tracked"):
                        continue
                    size = 1
                    for d in fh.get_slice(k).get_shape():
                        size *= int(d)
                    n += size
        except Exception as exc:  # safetensors raises various types for garbage input
            raise MfifError(f"{f}: not a valid safetensors weights file ({type(exc).__name__})") from None
    return n


def _files(path: str | os.PathLike[str] | None, name: str) -> tuple[list[Path], str]:
    """The files of a weights set (``path``, or the shipped set ``name``) and the name for messages."""
    if path is None:
        files = installed_weights(name)
        if not files:
            raise MfifError(
                f"no trained weights installed for {name!r}; pass --weights PATH (a .safetensors file "
                f"or folder), or use another method (see 'mfif methods')"
            )
        return files, str(files[0])
    return _resolve(path), str(path)


def load_numpy_generator(path: str | os.PathLike[str] | None = None, *, name: str = "mfif-gan") -> NumpyGenerator:
    """A weights set as the torch-free :class:`~mfif.models.numpy_net.NumpyGenerator` (float32, eval mode).

    Args:
        path: As :func:`load_generator`; None = the shipped set ``name``.
        name: Name of the shipped weights set.

    Raises:
        MfifError: no weights installed, file unreadable, or tensors that do not fit the generator.
    """
    from mfif.models.numpy_net import numpy_generator_from_state

    files, where = _files(path, name)
    state, meta = read_state_numpy(files)
    return numpy_generator_from_state(state, meta, where=where)


def load_generator(
    path: str | os.PathLike[str] | None = None,
    *,
    name: str = "mfif-gan",
    config: GeneratorConfig | None = None,
    device: str | torch.device = "cpu",
) -> Generator:
    """Build a :class:`Generator` from safetensors weights, in eval mode, float32.

    Args:
        path: A ``.safetensors`` file, one shard of a set, or a folder. None = the shipped set ``name``.
        name: Name of the shipped weights set (``mfif-gan`` or ``mfif-gan-lite``).
        config: Architecture; default = the ``mfif_config`` stored in the file (or the paper's).
        device: Torch device.

    Raises:
        MfifError: no weights installed, file unreadable, or tensors that do not fit the architecture.
    """
    from mfif.models.generator import Generator, GeneratorConfig

    files, where = _files(path, name)
    state, meta = read_state(files)
    if config is None:
        config = GeneratorConfig.from_dict(json.loads(meta["mfif_config"])) if "mfif_config" in meta else GeneratorConfig()
    # Branch batching only changes BN statistics in training; in eval mode both are identical and the
    # batched form is faster, so inference always uses it.
    config = GeneratorConfig.from_dict({**config.to_dict(), "batched_branches": True})
    model = Generator(config)
    own = model.state_dict()
    missing, unexpected, wrong = state_mismatch(own, state)
    if missing or unexpected or wrong:
        detail = (
            f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} of wrong shape"
            + (f" (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)} vs {tuple(own[wrong[0]].shape)})" if wrong else "")
        )
        raise MfifError(f"{where}: weights do not fit the generator ({detail})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    model.eval()
    return model.to(device)


def save_model_file(model: Any, path: str | os.PathLike[str], *, fmt: str, metadata: dict[str, Any] | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write a model with a ``config.to_dict()`` as one safetensors file, atomically.

    Args:
        model: A torch module with a ``config`` dataclass that has ``to_dict()``.
        path: Target file.
        fmt: The ``format`` metadata (what the loader checks).
        metadata: Extra metadata (provenance); strings kept, other values as JSON.
        dtype: Storage type of floating tensors; None = ``torch.float16``. Other tensors keep theirs.

    Returns:
        The path written.
    """
    import torch
    from safetensors.torch import save_file

    dtype = torch.float16 if dtype is None else dtype
    p = Path(path)
    meta = {"mfif_config": json.dumps(model.config.to_dict()), "format": fmt}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()})
    state = {k: (v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items()}
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".tmp-{p.name}")
    save_file(state, str(tmp), metadata=meta)
    publish(tmp, p)
    return p


def save_generator(
    model: Generator,
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    shard_mib: float = 15.0,
    metadata: dict[str, Any] | None = None,
) -> list[Path]:
    """Write a generator as safetensors, split into shards of at most ``shard_mib`` MiB.

    Args:
        model: The generator.
        path: Target ``NAME.safetensors``; shards are named ``NAME-0000k-of-0000n.safetensors``.
        dtype: Storage type of floating tensors; None = ``torch.float16`` (half the size; BN counters
            stay int64).
        shard_mib: Maximum shard size.
        metadata: Extra string metadata (provenance).

    Returns:
        The written files.
    """
    import torch
    from safetensors.torch import save_file

    dtype = torch.float16 if dtype is None else dtype
    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_suffix(".safetensors")
    if not p.parent.is_dir():
        raise MfifError(f"{p}: output directory {p.parent} does not exist")
    meta = {"mfif_config": json.dumps(model.config.to_dict()), "format": "mfif-generator-v1"}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    state = {
        k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in model.state_dict().items()
    }
    limit = int(shard_mib * 1024 * 1024) - 64 * 1024  # header room
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k, v in state.items():
        nbytes = v.numel() * v.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][k] = v
        size += nbytes
    stem = p.name[: -len(".safetensors")]
    names = [p] if len(shards) == 1 else [
        p.parent / f"{stem}-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))
    ]
    for old in list(p.parent.glob(f"{stem}-*-of-*.safetensors")) + ([p] if p.exists() else []):
        if old not in names:
            old.unlink()
    for shard, out in zip(shards, names):
        fd, tmp = tempfile.mkstemp(prefix=".mfif-", suffix=".safetensors", dir=out.parent)
        os.close(fd)
        try:
            save_file(shard, tmp, metadata=meta)
            publish(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return names
