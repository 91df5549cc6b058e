//! depthlab-nn: fully connected layers, activations, losses, optimizers and training.
