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
