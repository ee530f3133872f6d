"""adaptive activations."""
