"""``L_inf(H) = max_{s in {-1,1}^d} s^T H s`` beyond enumeration: structure, branch and bound."""

from signgeom.linf.result import LinfResult
from signgeom.linf.solve import max_quadratic_form

__all__ = ["LinfResult", "max_quadratic_form"]
