"""Regression check: the quick preset's numbers against the committed references.

A failure lists every moved number (file, row, column, expected, actual). If the change is
intended, refresh the references: ``python -m signgeom.regression refresh`` (see
tests/regression/README.md) and commit them with the change.
"""

import pytest

from signgeom.regression import TABLES, check_workdir, reference_dir

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("spec", TABLES, ids=[s.reference for s in TABLES])
def test_quick_preset_numbers_match_references(quick_workflow, spec):
    messages = check_workdir(quick_workflow, reference_dir(), [spec])
    if messages:
        pytest.fail(
            f"{len(messages)} number(s) of {spec.output} moved beyond tolerance"
            " (if intended: `python -m signgeom.regression refresh`,"
            " see tests/regression/README.md):\n" + "\n".join(messages),
            pytrace=False,
        )
