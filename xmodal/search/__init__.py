"""Nearest-neighbour search over shape embeddings: catalogue entries, thumbnails, FAISS back-ends, index folders."""
