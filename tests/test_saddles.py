"""Du et al.'s tube of saddles, exact periodic-orbit detection and Bernstein et al.'s four
observations (signgeom.quadratic.saddles, saddle_runs, plotting.saddles)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from figure_checks import assert_image_files, assert_saddles_draw
from signgeom.io import read_table
from signgeom.plotting.saddles import LABELS, draw_saddles
from signgeom.quadratic.saddle_runs import (
    Perturbation,
    observations,
    read_saddle_table,
    run_all,
    run_batch,
    shown_rotations,
    traces_frame,
)
from signgeom.quadratic.saddles import Tube
from signgeom.workflow import REPO

TUBE = Tube(10, np.e, 1.0, np.e)
NO_PGD = Perturbation(0.1, 0.1, 10)


def numeric_grad(tube: Tube, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array(
        [(tube.value(x + h * e) - tube.value(x - h * e)) / (2 * h) for e in np.eye(x.size)]
    )


def numeric_hessian(tube: Tube, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Second differences of the value alone (independent of the analytic gradient)."""
    n = x.size
    e = np.eye(n) * h
    hess = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            hess[i, j] = (
                tube.value(x + e[i] + e[j])
                - tube.value(x + e[i] - e[j])
                - tube.value(x - e[i] + e[j])
                + tube.value(x - e[i] - e[j])
            ) / (4 * h * h)
    return hess


def test_gradient_matches_finite_differences_in_every_piece():
    rng = np.random.default_rng(1)
    t = TUBE.tau
    for k in range(1, TUBE.dim + 2):
        for a in (0.4 * t, 1.3 * t, 1.8 * t):  # Eq. (6)/(8) and the spline pieces (7)/(9)
            x = (
                TUBE.saddle(k)
                + rng.uniform(-0.5, 0.5, TUBE.dim)
                * t
                * np.r_[np.full(k - 1, 0.5), np.full(TUBE.dim - k + 1, 1.0)]
            )
            if k <= TUBE.dim:
                x[k - 1] = a
            x *= rng.choice([-1.0, 1.0], TUBE.dim)  # the mirror images too
            assert TUBE.in_tube(x)[0] and TUBE.active_index(x)[0] == k
            f, g = TUBE.value_and_grad(x)
            np.testing.assert_allclose(g, numeric_grad(TUBE, x), atol=1e-6 * (1 + abs(f)))


@pytest.mark.parametrize("k", range(1, TUBE.dim + 2))
def test_saddles_are_critical_with_the_stated_eigen_structure(k):
    s = TUBE.saddle(k)
    f, g = TUBE.value_and_grad(s)
    assert np.all(g == 0)
    assert f == pytest.approx(-(k - 1) * TUBE.nu, rel=1e-14)
    hess = numeric_hessian(TUBE, s)
    np.testing.assert_allclose(hess, TUBE.saddle_hessian(k), atol=1e-5)
    eig, vec = np.linalg.eigh(hess)
    if k <= TUBE.dim:  # one escape direction, e_k, with curvature -2 gamma
        assert np.sum(eig < 0) == 1
        assert eig[0] == pytest.approx(-2 * TUBE.gamma, abs=1e-5)
        assert abs(vec[k - 1, 0]) == pytest.approx(1.0, abs=1e-6)
    else:  # the minimum
        assert eig.min() == pytest.approx(2 * TUBE.L, abs=1e-5)
    assert TUBE.f_min == pytest.approx(-TUBE.dim * TUBE.nu)


def test_splines_join_the_pieces_with_value_slope_and_curvature():
    t, L, gm, nu = TUBE.tau, TUBE.L, TUBE.gamma, TUBE.nu
    h = 1e-5
    (g1_t, s1_t), (g1_2t, s1_2t) = TUBE.g1(np.array(t)), TUBE.g1(np.array(2 * t))
    assert (g1_t, s1_t) == pytest.approx((-gm * t**2, -2 * gm * t))
    assert (g1_2t, s1_2t) == pytest.approx((4 * L * t**2 - nu, -4 * L * t))
    curv = lambda a: (TUBE.g1(np.array(a + h))[1] - TUBE.g1(np.array(a - h))[1]) / (2 * h)  # noqa: E731
    assert curv(t) == pytest.approx(-2 * gm, rel=1e-6)
    assert curv(2 * t) == pytest.approx(2 * L, rel=1e-6)
    assert TUBE.g2(np.array(t)) == pytest.approx((L, 0.0))
    assert TUBE.g2(np.array(2 * t)) == pytest.approx((-gm, 0.0))
    # f is continuous where the active index changes inside the tube (x_2 inside its well)
    x = TUBE.saddle(2) + np.r_[0.0, 0.3 * t, np.full(TUBE.dim - 2, 0.2 * t)]
    for a in (t, 2 * t):
        lo, hi = x.copy(), x.copy()
        lo[0], hi[0] = a - 1e-9, a + 1e-9
        assert TUBE.value(lo) == pytest.approx(TUBE.value(hi), abs=1e-6)


def test_a_constructed_two_step_orbit_of_sign_gd_is_detected_with_period_2():
    # At saddle 1 of the 2-D tube turned by 45 degrees, A = Q H Q^T maps s = (1, -1) to
    # (2L, -2L): sign(A s) = s, so y0 = lr s / 2 -> y0 - lr s = -y0 -> y0 (f is even).
    tube, lr = Tube(2, 1.0, 1.0, 1.0), 0.25
    c = np.sqrt(0.5)
    q = np.array([[c, -c], [c, c]])
    y0 = lr / 2 * np.array([1.0, -1.0])
    (run,) = run_batch(tube, "sign", y0[None], q[None], lr, 50, 0.9, NO_PGD)
    assert (run.period, run.orbit_start, run.orbit_saddle) == (2, 0, 1)
    assert run.orbit_distance == pytest.approx(lr / np.sqrt(2), rel=1e-12)
    assert np.all(run.objective[::2] == run.objective[0])
    # with momentum y returns at step 2 but m does not: the state (y, m) first repeats later
    (mom,) = run_batch(tube, "sign_momentum", y0[None], q[None], lr, 50, 0.9, NO_PGD)
    assert np.array_equal(mom.objective[2], mom.objective[0]) and mom.orbit_start != 0
    # on the unrotated tube the same start is not caught: signGD walks out along e_1
    (free,) = run_batch(tube, "sign", y0[None], None, lr, 50, 0.9, NO_PGD)
    assert free.active.max() > 1 and free.orbit_saddle == tube.dim + 1


def test_a_two_step_orbit_at_the_minimum_is_found_on_dyadic_numbers():
    tube, lr = Tube(3, 1.0, 1.0, 1.0), 0.25
    y0 = np.full(3, 4.0 - lr / 2)  # 3.875 <-> 4.125, exact in binary
    (run,) = run_batch(tube, "sign", y0[None], None, lr, 20, 0.9, NO_PGD)
    assert (run.period, run.orbit_start, run.orbit_saddle) == (2, 0, tube.dim + 1)
    (pgd,) = run_batch(tube, "pgd", y0[None], None, lr, 20, 0.9, NO_PGD, [np.random.default_rng(0)])
    assert pgd.period == 0  # random perturbations: never checked


@pytest.fixture(scope="module")
def small_run():
    """The default tube, 10 Haar rotations, 600 steps: where all four observations show."""
    step_sizes = {"sign": 0.1, "sign_momentum": 0.1, "rescaled": 0.5}
    return run_all(TUBE, step_sizes, 10, 600, 0, 1.0, 0.9, NO_PGD)


def test_same_config_gives_the_same_numbers(small_run):
    table, traces = small_run
    again, again_traces = run_all(
        TUBE, {"sign": 0.1, "sign_momentum": 0.1, "rescaled": 0.5}, 10, 600, 0, 1.0, 0.9, NO_PGD
    )
    pd.testing.assert_frame_equal(again, table, check_exact=True)
    assert all(np.array_equal(again_traces[k], traces[k]) for k in traces)


def test_bernstein_et_al_four_observations(small_run):
    table, _ = small_run
    obs = observations(table, TUBE.dim)
    # 1. unrotated: signGD passes every saddle in the same number of steps (unimpeded)
    times = obs["unrotated_times"][1:]  # saddle 1 includes the start's distance to it
    assert np.all(np.isfinite(times)) and times.max() - times.min() <= 1
    # 2. rotation changes that: no rotation passes the saddles at a constant pace
    assert (obs["rotated_spread"].fillna(np.inf) > 10).all()
    # 3. some rotation catches constant-step signGD in an exactly periodic orbit at a saddle
    assert obs["caught"] and all(s <= TUBE.dim and p >= 2 for p, s in obs["caught"].values())
    # 4. momentum breaks it: signGD with momentum passes every saddle on those rotations
    assert obs["momentum_passed"] == {r: TUBE.dim for r in obs["caught"]}


def test_gd_is_stuck_by_underflow_unrotated_but_not_rotated():
    """Bernstein et al.'s aside: rounding in the rotation unsticks GD."""
    table, _ = run_all(TUBE, {"gd": 0.1}, 1, 3000, 0, 1.0, 0.9, NO_PGD)
    unrotated, rotated = table.iloc[0], table.iloc[1]
    assert unrotated["periodic"] and unrotated["period"] == 1
    assert unrotated["orbit_saddle"] <= TUBE.dim and unrotated["orbit_distance"] == 0.0
    assert rotated["saddles_passed"] == TUBE.dim


def test_figure_draws_the_table_numbers(small_run):
    table, traces = small_run
    shown = shown_rotations(table, TUBE.dim)
    assert set(shown) == {"unrotated", "rotated", "periodic"}
    frame = traces_frame(traces, list(shown.values()))
    fig = draw_saddles(table, frame, TUBE)
    by_label = {label: method for method, label in LABELS.items()}
    for ax, rotation in zip(fig.axes, shown.values(), strict=True):
        drawn = [line for line in ax.get_lines() if line.get_label() in by_label]
        assert {by_label[line.get_label()] for line in drawn} == set(table["method"])
        for line in drawn:
            method = by_label[line.get_label()]
            row = table[(table["method"] == method) & (table["rotation"] == rotation)].iloc[0]
            np.testing.assert_array_equal(line.get_ydata(), traces[(method, rotation)])
            assert line.get_ydata()[-1] == row["final_objective"]
    caught = table[(table["method"] == "sign") & (table["rotation"] == shown["periodic"])]
    title = fig.axes[2].get_title()
    assert f"period {int(caught['period'].iloc[0])} at saddle " in title
    assert title.endswith(f"saddle {int(caught['orbit_saddle'].iloc[0])}")
    plt.close(fig)


def test_committed_reference_run_matches_the_config_and_shows_the_observations():
    ref = REPO / "results" / "reference" / "saddles"
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())["saddles"]
    table = read_saddle_table(ref / "saddles.csv")
    assert set(table["method"]) == set(cfg["step_sizes"])
    assert table["rotation"].max() == cfg["rotations"] and (table["steps"] == cfg["steps"]).all()
    for method, lr in cfg["step_sizes"].items():
        assert (table.loc[table["method"] == method, "step_size"] == lr).all()
    obs = observations(table, cfg["dim"])
    times = obs["unrotated_times"][1:]
    assert times.max() - times.min() <= 1
    spread = obs["rotated_spread"]
    assert spread.notna().sum() == 95 and spread.min() > 10
    assert obs["caught"] == {10: (2, 1), 35: (2, 7), 48: (2, 1), 49: (2, 9), 66: (2, 8)}
    assert obs["momentum_passed"] == {r: cfg["dim"] for r in obs["caught"]}
    assert (table["outside_tube"] == 0).all()
    traces = read_table(ref / "traces.parquet")
    last = traces.sort_values("step").groupby(["method", "rotation"])["objective"].last()
    shown = table.set_index(["method", "rotation"]).loc[last.index, "final_objective"]
    np.testing.assert_array_equal(last.to_numpy(), shown.to_numpy())
    assert_image_files([ref / "saddles.png", ref / "saddles.pdf"])
    assert_saddles_draw(table, traces, Tube(cfg["dim"], cfg["L"], cfg["gamma"], cfg["tau"]))
