"""Tagging, similar-product retrieval and evaluation on top of the indexed catalogue."""
