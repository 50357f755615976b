"""Figure 2: quadratics ``f(x) = 1/2 x^T H x`` with rotated Hessians, GD vs signGD."""
