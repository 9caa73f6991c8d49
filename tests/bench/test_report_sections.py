"""replace_section: the generated-table splice used by scripts/baseline_parity.py and benchmarks."""

from __future__ import annotations

from mfif.bench.report import replace_section

S, E = "<!-- t:start -->", "<!-- t:end -->"


def test_replace_section_appends_then_replaces(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text("# Title\n\nprose\n", encoding="utf-8")
    replace_section(doc, "table 1\n", start=S, end=E)
    assert doc.read_text(encoding="utf-8") == f"# Title\n\nprose\n\n{S}\ntable 1\n{E}\n"
    doc.write_text(doc.read_text(encoding="utf-8") + "after\n", encoding="utf-8")
    replace_section(doc, "table 2", start=S, end=E)
    assert doc.read_text(encoding="utf-8") == f"# Title\n\nprose\n\n{S}\ntable 2\n{E}\nafter\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.md"]  # no temporary file left behind
