"""Analysis of a protocol's tables, independent of the task: the claims engine
(:mod:`signgeom.analysis.claims`), its statistics over trajectories
(:mod:`signgeom.analysis.statistics`) and its settings (:mod:`signgeom.analysis.settings`).
Nothing here imports a task package (``signgeom.cifar``); the tasks declare their claims and
feed them to the engine."""
