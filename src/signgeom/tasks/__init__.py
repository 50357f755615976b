"""Tasks: data + model(s) + loss + evaluation behind one interface (``base.Task``).

Training (``signgeom.training.train``) and the estimates along a trajectory
(``signgeom.estimate.fixed_objective``, ``smoothness``, ``sensitivity``) reach data, models and the
loss only through a task; ``registry.task_for_model`` picks it by the run's model name.
"""
