"""Direction-aware ranking and best-three marking."""

from __future__ import annotations

import math

from mfif.bench.tables import rank_methods, table1_markdown, table2_markdown


def test_rank_directions() -> None:
    means = {
        "m1": {"H": 3.0, "L": 3.0, "Z": -0.5},
        "m2": {"H": 2.0, "L": 1.0, "Z": 0.1},
        "m3": {"H": 1.0, "L": 2.0, "Z": -0.05},
        "m4": {"H": math.nan, "L": 0.5, "Z": 1.0},
    }
    ranks, avg = rank_methods(means, {"H": "higher", "L": "lower", "Z": "zero"})
    assert [ranks[m]["H"] for m in means] == [1, 2, 3, 4]  # NaN ranks last
    assert [ranks[m]["L"] for m in means] == [4, 2, 3, 1]  # "lower": the smallest is best
    assert [ranks[m]["Z"] for m in means] == [3, 2, 1, 4]  # "zero": closest to 0 is best
    assert avg["m2"] == 2.0


def test_ties_share_rank() -> None:
    ranks, _ = rank_methods({"a": {"X": 1.0}, "b": {"X": 1.0}, "c": {"X": 0.0}}, {"X": "higher"})
    assert ranks["a"]["X"] == ranks["b"]["X"] == 1 and ranks["c"]["X"] == 3


def test_table1_marks_smallest_for_lower() -> None:
    means = {"a": {"LIF": 0.30}, "b": {"LIF": 0.10}, "c": {"LIF": 0.20}, "d": {"LIF": 0.40}}
    t = table1_markdown(means, {"LIF": "lower"})
    rows = {line.split("|")[1].strip(): line for line in t.splitlines()[2:]}
    assert "**0.1000**¹" in rows["b"]
    assert "**0.2000**²" in rows["c"]
    assert "**0.3000**³" in rows["a"]
    assert "**" not in rows["d"].split("|")[2]
    assert t.splitlines()[2].split("|")[1].strip() == "b"  # sorted by average rank
    assert "LIF ↓" in t.splitlines()[0]


def test_table2_fastest_marked() -> None:
    t = table2_markdown({"fast": {"d": 0.1}, "slow": {"d": 2.0}}, {"fast": "CPU: x", "slow": "GPU: y"}, ["d"])
    assert "**0.100**¹" in t and "GPU: y" in t


def test_normalise_direction_aware() -> None:
    from mfif.bench.figures import normalise_curves

    curves = {"v1": {"LIF": 0.2, "SF": -0.5, "QG": 0.7}, "v2": {"LIF": 0.4, "SF": 0.1, "QG": 0.9},
              "v3": {"LIF": 0.3, "SF": -0.2, "QG": 0.8}}
    raw = normalise_curves(curves, ["LIF", "SF", "QG"])
    assert raw["v2"]["LIF"] == 1.0 and raw["v1"]["LIF"] == 0.0
    good = normalise_curves(curves, ["LIF", "SF", "QG"], directions={"LIF": "lower", "SF": "zero", "QG": "higher"})
    assert good["v1"]["LIF"] == 1.0 and good["v2"]["LIF"] == 0.0  # smallest LIF is best
    assert good["v2"]["SF"] == 1.0 and good["v1"]["SF"] == 0.0  # |0.1| closest to zero
    assert abs(good["v3"]["QG"] - 0.5) < 1e-12 and good["v2"]["QG"] == 1.0


def test_table2_orders_by_mean_time_and_puts_untimed_methods_last():
    import warnings

    from mfif.bench.tables import table2_markdown

    secs = {"slow": {"mffw": 2.0, "grayscale": 4.0}, "fast": {"mffw": 0.1}, "lytro-only": {"lytro": 0.01},
            "mid": {"grayscale": 1.0}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice" for the method with no timing here
        text = table2_markdown(secs, {}, ["mffw", "grayscale"])
    rows = [line.split("|")[1].strip() for line in text.splitlines()[2:]]
    assert rows == ["fast", "mid", "slow", "lytro-only"]
    assert "| lytro-only | – | – |" in text
