"""gated activations."""
