"""CIFAR-10 experiment (Figure 3): data loading, models and optimizers."""
