"""``mfif serve``: a local web app to fuse, inspect and retouch (needs the ``web`` extra).

:func:`~mfif.web.app.create_app` builds the ASGI app; :mod:`mfif.web.jobs` runs fusion jobs through
:func:`mfif.api.fuse`; :mod:`mfif.web.retouch` re-composes results from painted strokes. The page is
plain HTML/CSS/JS in ``static/``. See docs/web.md.
"""
