"""signgeom: replication pipeline for "The Geometry of Sign Gradient Descent".

Subpackages:
    quadratic  -- Figure 2: rotated quadratics, exact smoothness constants, GD vs signGD.
    cifar      -- Figure 3: CIFAR-10 training jobs and smoothness estimation.
    plotting   -- the figures.
"""

__version__ = "0.1.0"
