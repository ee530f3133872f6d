"""smooth activations."""
