"""``mfif bench`` and ``mfif bench synthetic`` end to end (tiny)."""

from __future__ import annotations

from pathlib import Path

from mfif.cli.main import main


def test_bench_cli(tmp_path: Path, tiny_dataset, capsys) -> None:  # noqa: ANN001
    root, _ = tiny_dataset
    out = tmp_path / "o"
    rc = main(["bench", "--dataset", f"t={root}", "--methods", "laplacian-argmax,sf", "--out", str(out),
               "--no-progress", "--no-fig6", "--metrics", "QG,LIF"])
    assert rc == 0
    text = (out / "results.md").read_text()
    assert "QG ↑" in text and "LIF ↓" in text and "MI ↑" not in text
    assert "lossless" in text  # no published outputs -> one lossless table


def test_bench_cli_errors(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["bench", "--out", str(tmp_path)]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main(["bench", "--dataset", f"x={tmp_path / 'nope'}", "--out", str(tmp_path)]) == 2
    assert main(["bench", "--dataset", f"x={tmp_path}", "--methods", "no-such", "--out", str(tmp_path)]) == 2


def test_synthetic_cli(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "s"
    rc = main(["bench", "synthetic", "--n", "2", "--size", "40", "--methods", "sf", "--out", str(out), "--no-progress"])
    assert rc == 0
    md = (out / "synthetic.md").read_text()
    assert "truth-mask" in md and "laplacian-argmax" in md and "| sf |" in md
    first = (out / "synthetic.csv").read_text()
    assert main(["bench", "synthetic", "--n", "2", "--size", "40", "--methods", "sf", "--out", str(out), "--no-progress"]) == 0
    assert (out / "synthetic.csv").read_text().count("\n") == first.count("\n")  # resumed, not duplicated


def test_bench_cli_notes_the_paper_model_on_cpu(tmp_path: Path, tiny_dataset, capsys) -> None:  # noqa: ANN001
    import pytest

    from mfif.models.weights import installed_weights

    if not installed_weights("mfif-gan"):
        pytest.skip("mfif-gan weights not installed")
    root, _ = tiny_dataset
    rc = main(["bench", "--dataset", f"t={root}", "--methods", "mfif-gan", "--device", "cpu", "--limit", "1",
               "--out", str(tmp_path / "o"), "--no-progress", "--no-fig6", "--metrics", "QG"])
    assert rc == 0
    assert "mfif-gan (the paper-size model) runs on the CPU" in capsys.readouterr().err
    rc = main(["bench", "--dataset", f"t={root}", "--methods", "sf", "--device", "cpu", "--limit", "1",
               "--out", str(tmp_path / "p"), "--no-progress", "--no-fig6", "--metrics", "QG"])
    assert rc == 0 and "paper-size" not in capsys.readouterr().err


def test_paper_token_expands_to_the_papers_table1_methods() -> None:
    from mfif.bench import PAPER_METHODS
    from mfif.cli.bench import _expand_methods

    out = _expand_methods(["dsift", "paper", "mfif-gan-lite"])
    assert out[0] == "dsift" and out[-1] == "mfif-gan-lite"
    assert set(PAPER_METHODS) <= set(out) and len(out) == len(set(out)) == len(PAPER_METHODS) + 1
    assert _expand_methods(["gff"]) == ["gff"]
