"""Training: the PriceMLP, its config, the fit loop and checkpoints (needs the `train` extra)."""
