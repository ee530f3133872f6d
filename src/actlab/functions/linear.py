"""linear activations."""
