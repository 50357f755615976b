"""2-D closed forms of Figures 1 and 4: L_inf = a + d + 2|b| = l_1 + l_2; diag(l) - H is PSD and
singular; the drawn contours lie on x^T M x = 1 and nest as the bounds say."""

import itertools

import numpy as np
import pytest

from figure_checks import assert_image_files
from signgeom.norms import brute_force_inf_to_one_norm, inf_to_one_norm
from signgeom.plotting.figure1 import EUCLID_LABEL, SEP_LABEL, draw_ellipses
from signgeom.plotting.figure1 import main as figure1_main
from signgeom.plotting.figure4 import main as figure4_main
from signgeom.quadratic.two_d import ellipse, hessian_2d, linf_2d, separable_bound_2d

CASES = [
    (lam, lmin, deg)
    for lam in (1.0, 2.0, 8.0)
    for lmin in (1.0, 0.0)
    for deg in (0, 17, 45, 100, -30)
]


@pytest.mark.parametrize("lam, lmin, deg", CASES)
def test_linf_closed_form_equals_exact_norm_and_separable_sum(lam, lmin, deg):
    h = hessian_2d(lam, lmin, np.deg2rad(deg))
    np.testing.assert_allclose(np.linalg.eigvalsh(h), [lmin, lam], atol=1e-12)
    exact = float(inf_to_one_norm(h))
    assert linf_2d(h) == pytest.approx(exact, rel=1e-13)
    assert exact == pytest.approx(brute_force_inf_to_one_norm(h), rel=1e-13)
    sep = separable_bound_2d(h)
    assert sep.sum() == pytest.approx(linf_2d(h), rel=1e-13)
    gap = np.linalg.eigvalsh(np.diag(sep) - h)
    assert gap[0] == pytest.approx(0.0, abs=1e-12)  # singular ...
    assert gap[1] >= -1e-12  # ... and PSD


def test_separable_bound_is_the_cheapest_diagonal_bound():
    # Any other split l' with l'_1 + l'_2 = sum(l) is not a bound: diag(l') - H is indefinite.
    h = hessian_2d(5.0, 1.0, np.deg2rad(30))
    sep = separable_bound_2d(h)
    for shift in (-0.3, 0.3):
        other = sep + np.array([shift, -shift])
        assert np.linalg.eigvalsh(np.diag(other) - h)[0] < -1e-3
    assert np.linalg.eigvalsh(np.diag(sep - 1e-6) - h)[0] < 0


def test_linf_grows_with_rotation_from_sum_to_twice_lambda_max():
    lam = 4.0
    values = [linf_2d(hessian_2d(lam, 1.0, np.deg2rad(deg))) for deg in (0, 10, 20, 30, 45)]
    assert values[0] == pytest.approx(lam + 1.0) and values[-1] == pytest.approx(2 * lam)
    assert np.all(np.diff(values) > 0)


def test_non_symmetric_input_is_refused():
    with pytest.raises(ValueError, match="symmetric 2x2"):
        linf_2d(np.array([[1.0, 0.5], [0.0, 1.0]]))


def test_ellipse_points_lie_on_the_contour_and_bounds_nest():
    h = hessian_2d(6.0, 1.0, np.deg2rad(25))
    x = ellipse(h)
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", x, h, x), 1.0, rtol=1e-12)
    # diag(l) >= H and lambda_max I >= H: their contours lie inside the H contour.
    for m in (np.diag(separable_bound_2d(h)), 6.0 * np.eye(2)):
        y = ellipse(m)
        assert np.einsum("ni,ij,nj->n", y, h, y).max() <= 1 + 1e-12
    with pytest.raises(ValueError, match="unbounded"):
        ellipse(np.diag([1.0, 0.0]))


def _quadratic_form(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.einsum("ni,ij,nj->n", points, m, points)


@pytest.mark.parametrize("bounds", [False, True], ids=["figure1", "figure4"])
def test_figures_draw_each_panels_contours_and_constants(bounds):
    lams, angles, lmin = [2.0, 5.0], [0.0, 30.0], 1.0
    fig = draw_ellipses(lams, angles, lmin, bounds=bounds)
    axes = np.array(fig.axes).reshape(len(lams), len(angles))
    for (i, lam), (j, deg) in itertools.product(enumerate(lams), enumerate(angles)):
        ax, h = axes[i, j], hessian_2d(lam, lmin, np.deg2rad(deg))
        drawn = {ln.get_label(): np.column_stack(ln.get_data()) for ln in ax.get_lines()}
        np.testing.assert_allclose(_quadratic_form(h, drawn[r"$x^\top H x = 1$"]), 1, rtol=1e-9)
        # the principal axes: segments from -v / sqrt(mu) to v / sqrt(mu), on the contour
        ends = [
            np.column_stack(ln.get_data()) for ln in ax.get_lines() if ln.get_linestyle() == ":"
        ]
        assert len(ends) == 2
        np.testing.assert_allclose([_quadratic_form(h, e) for e in ends], 1, rtol=1e-9)
        assert abs(np.dot(ends[0][1], ends[1][1])) < 1e-12
        assert f"L_\\infty = {linf_2d(h):.3g}" in ax.get_xlabel()
        assert f"L_2 = {lam:.3g}" in ax.get_xlabel()
        if bounds:
            sep = separable_bound_2d(h)
            np.testing.assert_allclose(
                _quadratic_form(np.diag(sep), drawn[SEP_LABEL]), 1, rtol=1e-9
            )
            np.testing.assert_allclose(np.sum(drawn[EUCLID_LABEL] ** 2, axis=1), 1 / lam)
            assert f"l = ({sep[0]:.3g},\\ {sep[1]:.3g})" in ax.get_xlabel()
        else:
            assert {SEP_LABEL, EUCLID_LABEL}.isdisjoint(drawn)
    with pytest.raises(ValueError, match="lambda_min <= lambda_max"):
        draw_ellipses([0.5], [0.0], 1.0)


def test_figure_clis_write_every_format(tmp_path):
    args = ["--lambda-max", "2", "5", "--angles-deg", "0", "30", "--lambda-min", "1"]
    for main, name in ((figure1_main, "f1"), (figure4_main, "f4")):
        out = [tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"]
        main([*args, "--out", *map(str, out)])
        assert_image_files(out)
