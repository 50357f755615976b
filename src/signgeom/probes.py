"""The probe options of the finite-difference smoothness estimates, named once for the
estimator (``signgeom.estimate``) and the claims engine (``signgeom.analysis``), which knows no
estimator: ``raw`` (the chosen step sizes, the paper's), ``heavy_ball`` (each optimizer's
steady-state step), ``radius`` (both probes of one Euclidean length). ``raw`` is the headline
of every claims table; the others are its robustness columns."""

PROBE_STEPS = ("raw", "heavy_ball", "radius")
HEADLINE_PROBE_STEP = "raw"
