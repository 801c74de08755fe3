"""The neural field: a multi-resolution feature grid read by a small MLP. Knows nothing of bytes."""
