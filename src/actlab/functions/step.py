"""step activations."""
