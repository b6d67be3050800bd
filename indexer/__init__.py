"""Catalogue ingestion, embedding and FAISS indexing for Shelfsight."""
