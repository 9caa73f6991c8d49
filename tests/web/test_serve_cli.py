"""``mfif serve``: arguments, the loopback default, the warning for --host, a real start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("uvicorn", reason="the web extra is not installed")


@pytest.fixture
def no_listen(monkeypatch):  # noqa: ANN001, ANN201
    """Run `mfif serve` without binding a socket; returns the uvicorn.Config it would use."""
    import uvicorn

    import mfif.cli.serve as serve

    seen = {}

    def run(self, sockets=None):  # noqa: ANN001, ANN202
        seen["config"] = self.config
        seen["sockets"] = sockets

    def bind(host, port):  # noqa: ANN001, ANN202 - no socket is opened on any address
        seen["bind"] = (host, port)
        class Fake:
            def getsockname(self):  # noqa: ANN202
                return (host, port or 43210)

            def close(self) -> None:
                pass

        return Fake()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(serve, "_bind", bind)
    return seen


def test_default_is_loopback_without_warning(no_listen, capsys):  # noqa: ANN001
    from mfif.cli.main import main

    assert main(["serve", "--port", "8123"]) == 0
    assert "mfif serve: open http://localhost:8123/" in capsys.readouterr().out
    assert no_listen["bind"] == ("127.0.0.1", 8123) and no_listen["config"].port == 8123
    assert no_listen["config"].app.state.config.loopback_only is True
    assert "note" not in capsys.readouterr().err
    no_listen.clear()


def test_explicit_host_warns_and_accepts_other_host_names(no_listen, capsys):  # noqa: ANN001
    from mfif.cli.main import main

    assert main(["serve", "--host", "0.0.0.0", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "mfif: note: --host 0.0.0.0: the app is reachable from other machines" in err
    assert no_listen["bind"][0] == "0.0.0.0"
    assert no_listen["config"].app.state.config.loopback_only is False


@pytest.mark.parametrize("args, needle", [
    (["--port", "70000"], "--port"), (["--workers", "0"], "--workers"), (["--queue", "0"], "--queue"),
    (["--max-upload-mb", "0"], "--max-upload-mb"),
])
def test_bad_arguments_are_one_line_errors(no_listen, capsys, args, needle):  # noqa: ANN001
    from mfif.cli.main import main

    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfif: error: ") and needle in err and "\n" not in err


@pytest.mark.slow
def test_serve_starts_prints_the_url_and_answers(tmp_path):  # noqa: ANN001
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mfif", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("mfif serve: open http://localhost:"), line
        url = line.split("open ", 1)[1].split(" ", 1)[0]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        with opener.open(url + "api/info", timeout=30) as r:
            assert r.status == 200 and b"laplacian-argmax" in r.read()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


def test_a_taken_port_is_a_one_line_error(capsys):  # noqa: ANN001
    import socket

    from mfif.cli.main import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mfif: error: cannot listen on 127.0.0.1:{port} (") and "\n" not in err
