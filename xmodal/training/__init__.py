"""Training: configuration, input pipelines, encoders, losses, the loop, checkpoints, validation."""
