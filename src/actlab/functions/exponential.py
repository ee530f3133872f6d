"""exponential activations."""
