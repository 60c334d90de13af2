"""Training of the deepfake detector: face caches, self-blended fakes, train and eval loops, metrics."""
