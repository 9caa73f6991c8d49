"""Atomic writes (temporary file + rename) must still give outputs a normal file's permissions."""

import os

import numpy as np

from mfif.io import write_image


def test_outputs_get_normal_file_permissions(tmp_path):
    """mkstemp files are 0600; a written output must get 0666 minus the umask, like open() gives."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "x.png"
        write_image(out, np.zeros((4, 4), np.float32))
        assert (out.stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        write_image(out, np.zeros((4, 4), np.float32))
        assert (out.stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)


def test_write_atomic_and_published_folders_get_normal_permissions(tmp_path):
    import tempfile

    from mfif.io import publish, write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "t.txt", "a\r\nb\n")
        write_atomic(tmp_path / "b.bin", b"\x00\x01")
        assert (tmp_path / "t.txt").read_bytes() == b"a\r\nb\n"  # text is written as given, no newline translation
        assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
        d = tempfile.mkdtemp(dir=tmp_path)  # 0700, like every folder we build before swapping it in
        publish(d, tmp_path / "folder")
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
        assert modes == {"t.txt": 0o644, "b.bin": 0o644, "folder": 0o755}
    finally:
        os.umask(old)
