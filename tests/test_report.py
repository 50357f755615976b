"""``snakemake --report`` on the quick preset: a self-contained HTML with both figures."""

import pytest

from workflow_helpers import QUICK, snakemake

pytestmark = pytest.mark.slow


def test_report_embeds_figures_captions_and_tables(quick_workflow, tmp_path):
    report = tmp_path / "report.html"
    done = snakemake(quick_workflow, "--configfile", str(QUICK), "--report", str(report))
    assert done.returncode == 0, done.stderr[-3000:]
    html = report.read_text()
    names = ("figure2.png", "figure3.png", "saddles.png", "summary.csv", "smoothness.csv")
    for name in (*names, "metrics.csv", "saddles.csv"):
        assert f"filename={name};base64," in html
    assert "<strong>Figure 2.</strong>" in html and "<strong>Figure 3.</strong>" in html
    assert "cnn: 3 epochs, selection at epoch 3" in html  # caption rendered from the config
