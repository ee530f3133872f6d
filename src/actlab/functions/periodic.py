"""periodic activations."""
