"""Teacher maps for knowledge distillation (config ``distill``; docs/training.md).

The files come from ``scripts/gpu_eval.py teacher``: ``teacher-K.npz`` with

* ``maps``: n×H×W uint8, the teacher's soft focus map of the whole pack item as round(p·quant);
* ``sigma``: n float32, the defocus σ of the (clean, α-matte) pair the teacher saw;
* ``index``: n int, the pack item index (train split);
* ``quant``: scalar int (32);
* ``seed``: scalar int (the σ draw's seed, informative only).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from mfif.errors import MfifError

__all__ = ["load_teacher", "save_teacher", "teacher_files", "TEACHER_KEYS", "QUANT", "CHUNK"]

TEACHER_KEYS = ("maps", "sigma", "index", "quant")
QUANT = 32  # maps are stored as round(p · QUANT) in uint8: 1/32 steps, plenty for an L1 target, compresses well
CHUNK = 512  # items per teacher-K.npz (keeps each file small enough to travel back from a device)


def save_teacher(
    out: str | os.PathLike[str], probs: np.ndarray, sigma: np.ndarray, index: np.ndarray, *,
    seed: int = 0, quant: int = QUANT, chunk: int = CHUNK,
) -> list[Path]:
    """Write teacher maps as ``teacher-K.npz`` files (the format :func:`load_teacher` reads).

    Args:
        out: Folder (created).
        probs: n×H×W float maps in [0, 1] (the teacher's sigmoid output).
        sigma: n σ values of the pairs the teacher saw.
        index: n pack item indices.
        seed: The σ draw's seed (stored, informative).
        quant, chunk: Quantisation steps and items per file.

    Returns:
        The written files, in order.
    """
    probs = np.asarray(probs)
    n = probs.shape[0]
    if probs.ndim != 3 or np.shape(sigma) != (n,) or np.shape(index) != (n,):
        raise MfifError(f"save_teacher: expected n x H x W maps with n sigma and index values, got "
                        f"{probs.shape}, {np.shape(sigma)}, {np.shape(index)}")
    q = np.clip(np.rint(probs.astype(np.float32) * quant), 0, quant).astype(np.uint8)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k, s in enumerate(range(0, n, chunk)):
        f = folder / f"teacher-{k}.npz"
        np.savez_compressed(f, maps=q[s:s + chunk], sigma=np.asarray(sigma[s:s + chunk], np.float32),
                            index=np.asarray(index[s:s + chunk], np.int32), quant=np.int32(quant), seed=np.int32(seed))
        files.append(f)
    return files


def teacher_files(path: str | os.PathLike[str]) -> list[Path]:
    """The ``teacher-*.npz`` files of a folder (sorted by their number), or ``[path]`` for one file."""
    p = Path(path)
    if not p.exists():
        raise MfifError(f"{p}: teacher maps not found (distill: a folder of teacher-*.npz files or one .npz file)")
    if p.is_file():
        return [p]
    files = list(p.glob("teacher-*.npz"))
    if not files:
        raise MfifError(f"{p}: no teacher-*.npz files in the folder")

    def order(f: Path) -> tuple[int, str]:
        tail = f.stem[len("teacher-"):]
        return (int(tail), "") if tail.isdigit() else (1 << 30, f.name)

    return sorted(files, key=order)


def load_teacher(path: str | os.PathLike[str]) -> dict[int, tuple[float, np.ndarray]]:
    """Read teacher maps: pack item index → (σ, H×W float32 map in [0, 1] = maps / quant).

    Args:
        path: A folder holding ``teacher-*.npz`` files, or one ``.npz`` file.

    Raises:
        MfifError: missing path, no files, an unreadable file, missing keys, inconsistent lengths or
            map shapes (within or across files), values above ``quant``, a bad σ, or a pack index
            that appears twice.
    """
    out: dict[int, tuple[float, np.ndarray]] = {}
    shape: tuple[tuple[int, int], Path] | None = None
    for f in teacher_files(path):
        try:
            with np.load(f, allow_pickle=False) as z:
                missing = [k for k in TEACHER_KEYS if k not in z.files]
                if missing:
                    raise MfifError(f"{f}: not a teacher file, missing key(s) {', '.join(missing)} "
                                    f"(has {', '.join(sorted(z.files)) or 'none'})")
                maps, sigma, index, quant = (np.asarray(z[k]) for k in TEACHER_KEYS)
        except MfifError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise MfifError(f"{f}: not a readable .npz file ({type(exc).__name__})") from None
        if maps.ndim != 3:
            raise MfifError(f"{f}: maps: expected n x H x W, got shape {maps.shape}")
        n = maps.shape[0]
        if sigma.shape != (n,) or index.shape != (n,):
            raise MfifError(f"{f}: shape mismatch: maps {maps.shape}, sigma {sigma.shape}, index {index.shape} "
                            f"(expected {n} of each)")
        if shape is None:
            shape = (maps.shape[1:], f)
        elif maps.shape[1:] != shape[0]:
            raise MfifError(f"{f}: shape mismatch: maps are {maps.shape[1]}x{maps.shape[2]}, "
                            f"{shape[1].name} has {shape[0][0]}x{shape[0][1]}")
        if quant.ndim != 0 or not np.issubdtype(quant.dtype, np.integer) or int(quant) < 1:
            raise MfifError(f"{f}: quant: expected a positive integer scalar, got {quant!r}")
        q = int(quant)
        if not np.issubdtype(index.dtype, np.integer) or (n and int(index.min()) < 0):
            raise MfifError(f"{f}: index: expected pack item indices (integers >= 0)")
        sigma = sigma.astype(np.float64)
        if n and not (np.all(np.isfinite(sigma)) and float(sigma.min()) >= 0):
            raise MfifError(f"{f}: sigma: expected finite values >= 0")
        if n and (float(maps.min()) < 0 or float(maps.max()) > q):
            raise MfifError(f"{f}: maps: values outside [0, quant={q}]")
        fm = maps.astype(np.float32)
        fm /= np.float32(q)
        for k in range(n):
            j = int(index[k])
            if j in out:
                raise MfifError(f"{f}: pack item {j} has a teacher map twice")
            out[j] = (float(sigma[k]), fm[k])
    return out
