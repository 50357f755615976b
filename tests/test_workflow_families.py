"""quadratic.families reaches the Hessians: per-family outputs, the Prop. 5 stage and the
figures of Sec. 3 / App. B.2 through Snakemake on a tiny config."""

import copy

import numpy as np
import pandas as pd
import pytest

from figure_checks import assert_bounds_draw, assert_figure2_draws, assert_image_files
from signgeom.quadratic.hessians import HessianGrid, family_spectrum
from workflow_helpers import TINY_QUADRATIC, snakemake, write_config

pytestmark = pytest.mark.slow


def tiny(families):
    config = copy.deepcopy(TINY_QUADRATIC)
    config["quadratic"]["families"] = families
    return config


@pytest.fixture(scope="module")
def two_families(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("families")
    config = write_config(workdir / "tiny.yaml", tiny(["one_outlier", "power_law"]))
    targets = [
        "figures/figure2.png",
        "figures/figure2_power_law.png",
        "figures/bounds.png",
        "figures/bounds_power_law.png",
        "figures/figure1.png",
        "figures/figure4.png",
    ]
    done = snakemake(workdir, "--configfile", str(config), "--cores", "2", *targets)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def test_each_family_has_its_own_chain_and_figures(two_families):
    q = two_families / "results/quadratic"
    first, other = (
        HessianGrid.load(q / "hessians.npz"),
        HessianGrid.load(q / "power_law/hessians.npz"),
    )
    dim, ratio = first.dim, first.ratios[-1]
    np.testing.assert_allclose(first.eigenvalues[-1], family_spectrum("one_outlier", ratio, dim))
    np.testing.assert_allclose(other.eigenvalues[-1], family_spectrum("power_law", ratio, dim))
    assert not np.allclose(first.hessians, other.hessians)
    for d in (q, q / "power_law"):
        table = pd.read_csv(d / "separable.csv")
        assert len(table) == first.hessians[..., 0, 0].size
        assert (table["Linf"] <= table["Lsep"] * (1 + 1e-9)).all()
    names = ["figure2", "figure2_power_law", "bounds", "bounds_power_law", "figure1", "figure4"]
    figures = two_families / "figures"
    assert_image_files(figures / f"{n}.{ext}" for n in names for ext in ("png", "pdf"))
    for d in (q, q / "power_law"):  # each family's figures draw its own tables
        assert_figure2_draws(pd.read_csv(d / "summary.csv"))
        assert_bounds_draw(pd.read_csv(d / "separable.csv"))
    assert (two_families / "logs/quadratic/power_law/separable.log").exists()
    assert (two_families / "benchmarks/quadratic/power_law/separable.tsv").exists()


def test_the_configured_family_reaches_the_hessians(two_families, tmp_path):
    # The same grid with only power_law: its Hessians now take the plain path.
    config = write_config(tmp_path / "pl.yaml", tiny(["power_law"]))
    done = snakemake(
        tmp_path, "--configfile", str(config), "--cores", "1", "results/quadratic/hessians.npz"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    alone = HessianGrid.load(tmp_path / "results/quadratic/hessians.npz")
    before = HessianGrid.load(two_families / "results/quadratic/power_law/hessians.npz")
    np.testing.assert_array_equal(alone.hessians, before.hessians)


def test_an_infeasible_family_fails_before_any_job(tmp_path):
    config = tiny(["one_outlier", "three_outliers"])  # d = 5: three outliers allow ratio <= 5/3
    path = write_config(tmp_path / "bad.yaml", config)
    done = snakemake(tmp_path, "--configfile", str(path), "--cores", "1", "figure2")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "config key 'quadratic.lambda_ratio.max'" in out and "'three_outliers'" in out
    assert not (tmp_path / "results").exists()


def test_report_has_the_new_figures_with_family_captions(two_families, tmp_path):
    report = tmp_path / "report.html"
    targets = ["figure1", "figure4", "figure2", "bounds"]
    config = two_families / "tiny.yaml"
    done = snakemake(two_families, *targets, "--report", str(report), "--configfile", str(config))
    assert done.returncode == 0, done.stderr[-3000:]
    html = report.read_text()
    for name in (
        "figure1.png",
        "figure4.png",
        "bounds.png",
        "bounds_power_law.png",
        "separable.csv",
    ):
        assert f"filename={name};base64," in html
    assert "<strong>Figure 1.</strong>" in html and "<strong>Figure 4.</strong>" in html
    assert "spectrum family power_law" in html
