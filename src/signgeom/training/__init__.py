"""Training one run of the protocol: settings and run identity, the optimizers (and their rotated
versions), the epoch loop with checkpoints and resume, the snapshot schedule, devices."""
