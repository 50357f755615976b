"""Figure 2 draws the summary's cells: the quick preset's committed summary (the regression
reference), redrawn and read back."""

import pandas as pd

from figure_checks import assert_figure2_draws
from signgeom.regression import QUADRATIC_SUMMARY, reference_dir


def test_figure2_draws_the_committed_summary():
    assert_figure2_draws(pd.read_csv(reference_dir() / QUADRATIC_SUMMARY.reference))
