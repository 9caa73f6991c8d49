"""User-facing errors.

Every problem caused by the user's input (a missing file, a wrong argument, a bad weights file)
raises :class:`MfifError` with a one-line message that names the file or argument. The CLI turns it
into ``mfif: error: <message>`` on stderr and exit code 2, without a traceback.
"""

from __future__ import annotations


class MfifError(Exception):
    """An error caused by bad input, reported to the user as a single line."""
