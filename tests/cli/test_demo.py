"""`mfif demo` runs end to end on the built-in example and writes its files."""

import re

from mfif.cli.main import main
from mfif.io import read_image


def test_demo_writes_results(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path / "d"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("source_a.png", "source_b.png", "fused.png", "side_by_side.png"):
        assert (tmp_path / "d" / name).is_file()
    fused, _ = read_image(tmp_path / "d" / "fused.png")
    assert fused.shape == (512, 512, 3)
    m = re.search(r"PSNR vs the all-in-focus truth: ([\d.]+) dB", out)
    # any sensible fusion of this pair is far above the 30 dB of a plain average of A and B
    assert m and float(m.group(1)) > 38.0
