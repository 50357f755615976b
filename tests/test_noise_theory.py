"""Issue 25 parts 1 and 2: noise generators, stochastic runs, majority vote, tuning, tables and
figures against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from signgeom.norms import exact_inf_to_one_norm, lambda_max
from signgeom.plotting.majority import draw_majority
from signgeom.plotting.noise_dimension import draw_noise_dimension
from signgeom.quadratic.hessians import hessian_for_cell
from signgeom.quadratic.majority_summary import summarise as summarise_majority
from signgeom.quadratic.noise import (
    NOISE_DISTRIBUTIONS,
    l1_over_l2,
    noise_distribution,
    noise_scales,
)
from signgeom.quadratic.noise_dimension_summary import summarise
from signgeom.quadratic.runs import final_distances
from signgeom.quadratic.stochastic import (
    Quadratic,
    majority_vote,
    majority_vote_explicit,
    run_batch,
    tune_step_size,
)

GAUSS = NOISE_DISTRIBUTIONS["gaussian"]
SKEWED = NOISE_DISTRIBUTIONS["centred_exponential"]


@pytest.mark.parametrize("dim, k", [(16, 1), (100, 4), (1024, 1)])
def test_noise_scales_have_the_stated_norms(dim, k):
    s = 0.7
    dense = noise_scales("dense", dim, s, k, seed=3)
    sparse = noise_scales("sparse", dim, s, k, seed=3)
    for sigma in (dense, sparse):
        assert np.linalg.norm(sigma) == pytest.approx(s * np.sqrt(dim), rel=1e-12)
    assert np.abs(dense).sum() == pytest.approx(s * dim, rel=1e-12)
    assert np.abs(sparse).sum() == pytest.approx(s * np.sqrt(dim * k), rel=1e-12)
    assert l1_over_l2(dense) == pytest.approx(np.sqrt(dim))
    assert l1_over_l2(sparse) == pytest.approx(np.sqrt(k))
    assert np.count_nonzero(sparse) == k


def test_unknown_geometry_and_distribution_are_refused():
    with pytest.raises(ValueError, match="geometry"):
        noise_scales("banded", 8, 1.0, 1, 0)
    with pytest.raises(ValueError, match="distribution"):
        noise_distribution("cauchy")
    with pytest.raises(ValueError, match="k <= d"):
        noise_scales("sparse", 4, 1.0, 5, 0)


@pytest.mark.parametrize(
    "name, skew, median", [("gaussian", 0.0, 0.0), ("centred_exponential", 2.0, np.log(2) - 1)]
)
def test_distributions_are_standardised_with_their_stated_shape(name, skew, median):
    dist = NOISE_DISTRIBUTIONS[name]
    z = dist.sample(np.random.default_rng(0), (400_000,))
    assert abs(z.mean()) < 0.01
    assert z.var() == pytest.approx(1.0, abs=0.015)
    assert np.mean(z**3) == pytest.approx(skew, abs=0.1)
    assert np.median(z) == pytest.approx(median, abs=0.01)
    assert dist.median == pytest.approx(median, abs=1e-12)
    # the cdf is the sample's
    for t in (-0.9, -0.3, 0.0, 0.5, 1.5):
        assert dist.cdf(np.array(t)) == pytest.approx(np.mean(z <= t), abs=0.003)
    # the mean of M draws: mean 0, variance 1/M, and the right skew (skew / sqrt(M))
    m = 16
    zm = dist.sample_mean(np.random.default_rng(1), m, (400_000,))
    assert abs(zm.mean()) < 0.003
    assert zm.var() == pytest.approx(1 / m, rel=0.02)
    assert np.mean(zm**3) / zm.var() ** 1.5 == pytest.approx(skew / np.sqrt(m), abs=0.05)


@pytest.mark.parametrize("name", sorted(NOISE_DISTRIBUTIONS))
def test_noise_is_independent_across_coordinates_with_variances_sigma_squared(name):
    sigma = np.array([0.5, 1.0, 2.0, 0.0])
    xi = sigma * NOISE_DISTRIBUTIONS[name].sample(np.random.default_rng(2), (200_000, 4))
    np.testing.assert_allclose(xi.var(axis=0), sigma**2, rtol=0.03)
    cov = np.cov(xi[:, :3].T)
    off = cov[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off) < 0.02)
    # fourth moments factorise: E[xi_i^2 xi_j^2] = E[xi_i^2] E[xi_j^2]
    joint = np.mean(xi[:, 0] ** 2 * xi[:, 2] ** 2)
    assert joint == pytest.approx(np.mean(xi[:, 0] ** 2) * np.mean(xi[:, 2] ** 2), rel=0.1)


@pytest.mark.parametrize("theta", [0.0, 0.3])
def test_zero_noise_reproduces_the_figure2_runs_number_for_number(theta):
    dim, steps = 7, 40
    h = hessian_for_cell(theta, 3.0, dim, rotation_seed=5)
    l2 = lambda_max(h[None])
    linf = exact_inf_to_one_norm(h[None], 20)
    x0 = np.random.default_rng(4).standard_normal((6, dim))
    d_gd, d_sign = final_distances(h[None], x0[None], l2, linf, steps)
    zero = np.zeros(dim)
    rng = np.random.default_rng(0)
    problem = Quadratic(h)
    assert (problem.diagonal is not None) == (theta == 0.0)
    gd = run_batch(problem, x0, l2, "sgd", steps, zero, GAUSS, rng)
    sign = run_batch(problem, x0, linf, "sign_l1", steps, zero, GAUSS, rng)
    np.testing.assert_array_equal(np.linalg.norm(gd.x, axis=-1), d_gd)
    np.testing.assert_array_equal(np.linalg.norm(sign.x, axis=-1), d_sign)
    noisy = run_batch(problem, x0, l2, "sgd", steps, np.full(dim, 1e-3), GAUSS, rng)
    assert not np.array_equal(noisy.x, gd.x)


def test_steps_to_target_is_the_first_hit():
    h = np.diag([1.0, 1.0])
    x0 = np.array([[1.0, -1.0]])
    # GD with lr 1/2 halves x each step: ||g||_1 = 2 * 2^-t <= 2 * 0.1 first at t = 4
    res = run_batch(
        Quadratic(h),
        x0,
        np.array([2.0, 1e9]),
        "sgd",
        50,
        np.zeros(2),
        GAUSS,
        np.random.default_rng(0),
        target=np.array([0.2]),
    )
    assert res.steps[0, 0] == 4
    assert res.steps[1, 0] == -1


def test_majority_vote_of_one_worker_is_signsgd():
    g = np.linspace(-2, 2, 50)
    sigma = np.full(50, 1.3)
    for dist in NOISE_DISTRIBUTIONS.values():
        vote = majority_vote_explicit(g, sigma, dist, 1, np.random.default_rng(9))
        z = dist.sample(np.random.default_rng(9), (1, 50))[0]
        np.testing.assert_array_equal(vote, np.sign(g + sigma * z))


def vote_error_closed_form(q: float, workers: int) -> tuple[float, float]:
    """P(wrong) and P(tie) of the majority of M votes, each wrong with probability q."""
    wrong = binom.sf(workers // 2, workers, q)  # more than M/2 wrong votes
    tie = binom.pmf(workers // 2, workers, q) if workers % 2 == 0 else 0.0
    return float(wrong), float(tie)


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("sampler", [majority_vote, majority_vote_explicit])
def test_majority_vote_error_matches_the_binomial_closed_form(workers, sampler):
    n = 100_000
    g = np.full(n, 0.4)
    sigma = np.full(n, 1.0)
    vote = sampler(g, sigma, GAUSS, workers, np.random.default_rng(workers))
    q = float(GAUSS.cdf(np.array(-0.4)))  # one worker's sign is wrong w.p. Phi(-g/sigma)
    wrong, tie = vote_error_closed_form(q, workers)
    tol = 5 * np.sqrt(0.25 / n)
    assert np.mean(vote < 0) == pytest.approx(wrong, abs=tol)
    assert np.mean(vote == 0) == pytest.approx(tie, abs=tol)


def test_skewed_noise_biases_the_vote_more_with_more_workers():
    # g = 0.1 sigma lies below -median = 0.307 sigma: a worker's sign is wrong w.p. > 1/2
    n = 50_000
    g, sigma = np.full(n, 0.1), np.full(n, 1.0)
    q = float(SKEWED.cdf(np.array(-0.1)))
    assert q > 0.5
    wrong = [
        np.mean(majority_vote(g, sigma, SKEWED, m, np.random.default_rng(m)) < 0)
        for m in (1, 9, 49)
    ]
    assert wrong == sorted(wrong)
    for m, w in zip((1, 9, 49), wrong, strict=True):
        assert w == pytest.approx(vote_error_closed_form(q, m)[0], abs=0.01)


def test_noise_free_coordinates_vote_the_true_sign():
    g = np.array([-1.0, 2.0, -3.0])
    vote = majority_vote(g, np.zeros(3), GAUSS, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(vote, np.sign(g))


def synthetic_evaluate(best_log10: float, runs: int = 5):
    def evaluate(lrs):
        steps = 10 + 100 * np.abs(np.log10(lrs) - best_log10)
        return np.repeat(np.round(steps)[:, None], runs, axis=1).astype(np.int64)

    return evaluate


def test_tuning_picks_the_interior_best_and_widens_at_an_edge():
    grid = np.logspace(-3, 0, 7)
    inside = tune_step_size(synthetic_evaluate(-1.5), grid, widen=3)
    assert inside.lr == pytest.approx(10**-1.5) and not inside.at_edge and inside.widenings == 0
    # 1e-4 is the new edge after one widening; the second shows it is interior
    below = tune_step_size(synthetic_evaluate(-4.0), grid, widen=3)
    assert below.lr == pytest.approx(1e-4) and not below.at_edge and below.widenings == 2
    stuck = tune_step_size(synthetic_evaluate(-6.0), grid, widen=1)
    assert stuck.at_edge and stuck.lr == pytest.approx(10**-4)
    never = tune_step_size(lambda lrs: np.full((len(lrs), 3), -1), grid, widen=3)
    assert never.reached == 0.0 and never.widenings == 0 and not never.at_edge


def synthetic_dimension_runs(dims=(8, 32, 128), runs=6):
    """SGD takes d times as many steps as signSGD (momentum: as many) at every d."""
    rows, tuning = [], []
    rng = np.random.default_rng(0)
    for d in dims:
        for geometry, l1_l2 in (("dense", np.sqrt(d)), ("sparse", 1.0)):
            base = rng.integers(50, 60, runs).astype(float)
            for opt, factor in (
                ("sgd", d),
                ("signsgd", 1),
                ("sgd_momentum", 1),
                ("signsgd_momentum", 1),
            ):
                steps = base * factor
                rows.append(
                    pd.DataFrame(
                        dict(
                            dim=d,
                            geometry=geometry,
                            optimizer=opt,
                            run=np.arange(runs),
                            steps=steps,
                        )
                    )
                )
                tuning.append(
                    dict(
                        dim=d,
                        geometry=geometry,
                        optimizer=opt,
                        sigma_l1_over_l2=l1_l2,
                        lr=0.1,
                        at_edge=False,
                    )
                )
    return pd.concat(rows, ignore_index=True), pd.DataFrame(tuning)


def test_slopes_against_the_theory_on_known_ratios():
    runs, tuning = synthetic_dimension_runs()
    steps, ratios, slopes = summarise(runs, tuning, 200, 0.9, seed=0)
    plain = ratios[~ratios["momentum"]]
    np.testing.assert_allclose(plain["ratio"], plain["dim"], rtol=1e-12)
    by = slopes.set_index(["geometry", "momentum"])
    assert by.loc[("sparse", False), "slope"] == pytest.approx(1.0)
    assert by.loc[("sparse", False), "predicted_slope"] == pytest.approx(1.0)
    assert by.loc[("sparse", False), "verdict"] == "holds"
    assert by.loc[("dense", False), "predicted_slope"] == pytest.approx(0.0, abs=1e-12)
    assert by.loc[("dense", False), "verdict"] == "fails"
    assert by.loc[("dense", True), "slope"] == pytest.approx(0.0, abs=1e-12)
    assert by.loc[("dense", True), "verdict"] == "holds"
    assert (steps["median_steps_lo"] <= steps["median_steps_hi"]).all()


def test_noise_dimension_figure_draws_the_tables_numbers():
    runs, tuning = synthetic_dimension_runs()
    _, ratios, slopes = summarise(runs, tuning, 100, 0.9, seed=0)
    fig = draw_noise_dimension(ratios, slopes)
    drawn = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}
    assert len(drawn) == 4
    for (geometry, momentum), cell in ratios.groupby(["geometry", "momentum"]):
        line = drawn[f"ratio:{geometry}:{momentum}"]
        cell = cell.sort_values("dim")
        np.testing.assert_array_equal(line.get_xdata(), cell["dim"])
        np.testing.assert_array_equal(line.get_ydata(), cell["ratio"])


def test_majority_table_and_figure():
    rows, tuning = [], []
    for geometry in ("dense", "sparse"):
        for dist in ("gaussian", "centred_exponential"):
            for opt, bits in (("sgd", 32 * 16), ("signsgd", 16)):
                for m in (1, 4):
                    steps = np.array([100.0, 110, 90, 105]) / m
                    if dist == "centred_exponential" and opt == "signsgd":
                        steps = np.full(4, np.inf)
                    rows.append(
                        pd.DataFrame(
                            dict(
                                geometry=geometry,
                                distribution=dist,
                                workers=m,
                                optimizer=opt,
                                run=np.arange(4),
                                steps=steps,
                            )
                        )
                    )
                    tuning.append(
                        dict(
                            dim=16,
                            geometry=geometry,
                            distribution=dist,
                            workers=m,
                            optimizer=opt,
                            bits_per_worker_step=bits,
                        )
                    )
    table = summarise_majority(pd.concat(rows), pd.DataFrame(tuning), 100, 0.9, seed=0)
    gauss = table[(table["distribution"] == "gaussian") & (table["workers"] == 4)]
    np.testing.assert_allclose(gauss["speedup"], 4.0)
    np.testing.assert_allclose(
        gauss["bits"], gauss["median_steps"] * 4 * gauss["bits_per_worker_step"]
    )
    skewed = table[(table["distribution"] != "gaussian") & (table["optimizer"] == "signsgd")]
    assert np.isinf(skewed["median_steps"]).all()
    fig = draw_majority(table)
    drawn = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}
    for row in table.itertuples():
        for quantity in ("speedup", "bits"):
            line = drawn[f"{quantity}:{row.geometry}:{row.distribution}:{row.optimizer}"]
            value = getattr(row, quantity)
            xs = list(line.get_xdata())
            if np.isfinite(value):
                assert line.get_ydata()[xs.index(row.workers)] == value
            else:
                assert row.workers not in xs


def test_config_errors_name_the_theory_keys():
    import yaml

    from signgeom.config import ConfigError, validate_config
    from signgeom.workflow import REPO

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    validate_config(config)
    theory = config["theory"]
    theory["noise"]["sparse_k"] = 1000
    theory["noise"]["step_sizes"]["sgd"] = {"min": 1.0, "max": 0.1, "num": 5}
    theory["majority_vote"]["workers"] = [2, 4]
    theory["majority_vote"]["distributions"] = ["gaussian", "cauchy"]
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    for key in (
        "theory.noise.sparse_k",
        "theory.noise.step_sizes.sgd",
        "theory.majority_vote.workers",
        "theory.majority_vote.distributions.1",
    ):
        assert f"'{key}'" in str(err.value)


def test_committed_reference_tables_are_recomputed_from_its_runs():
    from signgeom.io import read_table
    from signgeom.workflow import REPO

    ref = REPO / "results" / "reference" / "noise" / "noise_dimension"
    runs, tuning = read_table(ref / "runs.parquet"), read_table(ref / "tuning.csv")
    steps, ratios, slopes = summarise(runs, tuning, 1000, 0.9, seed=0)
    for name, table in (("steps", steps), ("ratios", ratios), ("slopes", slopes)):
        pd.testing.assert_frame_equal(table, read_table(ref / f"{name}.csv"), check_dtype=False)
    ref = ref.parent / "majority_vote"
    table = summarise_majority(
        read_table(ref / "runs.parquet"), read_table(ref / "tuning.csv"), 1000, 0.9, seed=0
    )
    pd.testing.assert_frame_equal(table, read_table(ref / "majority.csv"), check_dtype=False)
