"""CIFAR-10 image classification: data, the CNN and ResNet20, augmentation, the task."""
