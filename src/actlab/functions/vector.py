"""vector activations."""
