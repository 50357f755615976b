"""Figure 5 (beyond the paper): its outputs; its runs are the plan's (signgeom.plan.rotation).

Kept apart from the rules in rotation.smk (Snakemake's linter asks not to mix rules and
functions).
"""

from signgeom.plan.rotation import ROTATION_CLAIMS, ROTATION_TABLE

ROTATION = PLAN.rotation
ROT = C["rotation"]
FIGURE5 = [f"figures/figure5.{ext}" for ext in FIGURE_EXTS]
ROTATION_TABLES = [ROTATION_TABLE, ROTATION_CLAIMS] if ROTATION.enabled else []
ROTATION_FIGURES = FIGURE5 if ROTATION.enabled else []
ROTATION_OUTPUTS = ROTATION_TABLES + ROTATION_FIGURES
