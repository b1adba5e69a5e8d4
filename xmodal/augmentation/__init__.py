"""Pictures changed on purpose: training augmentation, backgrounds, distortions, perturbations."""
