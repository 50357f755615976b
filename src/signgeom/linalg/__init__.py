"""Estimators on a symmetric linear operator (``scipy.sparse.linalg.LinearOperator``) in
NumPy and SciPy only: extreme eigenvalues by Lanczos and the trace by deflated Hutchinson."""
