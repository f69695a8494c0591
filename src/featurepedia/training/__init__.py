"""SAE training and evaluation on a model's activations; the output is SAELens's on-disk format."""
