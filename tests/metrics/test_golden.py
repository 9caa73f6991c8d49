"""Golden values on a tiny seeded RGB triple (always run, no ../shared needed).

Provenance: the numbers below were computed ONCE by this implementation (mfif.metrics at the time
it was verified against the reference toolbox: camera values of metrics-spec.md §14 and the Lytro
reference CSV to <= 4e-12 relative, see test_parity_toolbox.py) and pasted here. They are a
regression guard, not independent evidence; independent checks are in test_closed_form.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from mfif.metrics import METRIC_NAMES, evaluate


def _triple():  # noqa: ANN202
    rng = np.random.default_rng(20261126)
    truth = gaussian_filter(rng.random((32, 32, 3)), sigma=(0.8, 0.8, 0))
    truth = (truth - truth.min()) / (truth.max() - truth.min())
    blur = gaussian_filter(truth, sigma=(2.0, 2.0, 0))
    m = np.zeros((32, 32, 1))
    m[:, :16] = 1
    a = truth * m + blur * (1 - m)
    b = blur * m + truth * (1 - m)
    q = lambda x: np.floor(x * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return q(a), q(b), q(truth), q(0.5 * (a + b))


GOLDEN_PERFECT = {
    "MI": 1.30645654533252, "TE": 0.506282775749873, "NCIE": 0.838955756309859, "QG": 0.793758770469712,
    "QM": 2.87756790970272, "SF": -0.00427919122238589, "QY": 0.981640830295736, "QCB": 0.775619106185844,
    "LIF": 0.516401868185077, "AG": 17.9323933717991, "MSD": 0.0224608018598011, "GLD": 49.2004856052723,
}
GOLDEN_AVERAGE = {
    "MI": 0.908154893606675, "TE": 0.541800045648027, "NCIE": 0.82120912770113, "QG": 0.576080215923284,
    "QM": 0.184796027022563, "SF": -0.45403365632719, "QY": 0.85298809671328, "QCB": 0.748470768216837,
    "LIF": 0.524020469518802, "AG": 9.78684545623162, "MSD": 0.00939331078153535, "GLD": 26.5587929240375,
}


@pytest.mark.parametrize("which", ["perfect", "average"])
def test_golden(which: str) -> None:
    a, b, truth, avg = _triple()
    f = truth if which == "perfect" else avg
    gold = GOLDEN_PERFECT if which == "perfect" else GOLDEN_AVERAGE
    r = evaluate(a, b, f)
    assert tuple(r) == METRIC_NAMES
    for k in METRIC_NAMES:
        assert r[k] == pytest.approx(gold[k], rel=1e-9), k
    # Textured image: the faithful QY equals the stable one.
    assert evaluate(a, b, f, metrics=["QY"], qy_mode="faithful")["QY"] == pytest.approx(gold["QY"], rel=1e-9)


def test_perfect_beats_average() -> None:
    # Sanity of directions on the golden triple (the perfect selection is the better fusion).
    from mfif.metrics import METRICS

    a, b, truth, avg = _triple()
    rp, ra = evaluate(a, b, truth), evaluate(a, b, avg)
    for k in ("MI", "NCIE", "QG", "QM", "QY", "QCB", "AG", "GLD"):
        assert METRICS[k].direction == "higher"
        assert rp[k] > ra[k], k
    assert METRICS["SF"].direction == "zero" and abs(rp["SF"]) < abs(ra["SF"])
    assert METRICS["LIF"].direction == "lower" and rp["LIF"] < ra["LIF"]
