"""Estimates along a trained trajectory, read from its snapshots: R_hat and phi
(``smoothness``), their probe-step sensitivity, the Hessian premises, the similarity to
signSGD-momentum, and the fixed objective (the task's loss over the estimation set) they share."""
