"""README's statements on the estimate layouts are read off the committed bench output
(``bench/results/bench_estimate_layout_cpu.txt``, written by ``bench/bench_estimate_layout.py``)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYOUTS = REPO / "bench/results/bench_estimate_layout_cpu.txt"
ROW = re.compile(
    r"^(?P<model>cnn|resnet20)\s+(?P<epoch>\d+)\s+(?P<path>fp\d\d \w+, [\w ]+?)\s+"
    r"(?P<seconds>[\d.]+)\s+(?P<r_hat>[\d.]+)\s+(?P<dist>[\d.e+-]+)\s+(?:yes|NO)\s+[\d.]+x$"
)


def short(value: float) -> str:
    """``9.7e-5`` style: two significant digits, no zero-padded exponent."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def distances() -> dict[tuple[str, str], float]:
    """Distance of R_hat from fp64 per (model, path) at each model's last snapshot epoch."""
    rows = [m.groupdict() for m in map(ROW.match, LAYOUTS.read_text().splitlines()) if m]
    last: dict[str, int] = {}
    for r in rows:
        last[r["model"]] = max(last.get(r["model"], 0), int(r["epoch"]))
    return {
        (r["model"], r["path"]): float(r["dist"])
        for r in rows
        if int(r["epoch"]) == last[r["model"]]
    }


def test_the_short_format():
    assert short(9.7e-05) == "9.7e-5" and short(3.8e-05) == "3.8e-5" and short(1.3e-3) == "1.3e-3"


def test_readme_layout_agreement_is_the_committed_bench_output():
    dist = distances()
    nhwc = [dist[m, "fp32 NHWC, whole chunk"] for m in ("cnn", "resnet20")]
    nchw = [dist[m, "fp32 NCHW, whole chunk"] for m in ("cnn", "resnet20")]
    ratios = [a / b for a, b in zip(nhwc, nchw, strict=True)]
    text = " ".join((REPO / "README.md").read_text().split())
    assert f"lies {short(nhwc[0])} (CNN) and {short(nhwc[1])} (ResNet20) from the fp64" in text
    assert f"NCHW one lies {short(nchw[0])} and {short(nchw[1])}" in text
    assert f"{min(ratios):.0f}-{max(ratios):.0f}x NCHW's distance" in text
    assert min(ratios) > 1  # the reason the CPU presets keep NCHW
