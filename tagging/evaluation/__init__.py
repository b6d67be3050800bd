"""Offline measurement only ``shelfsight eval`` reaches: tagging on held-out or shifted
products, and descriptions against their real listings."""
