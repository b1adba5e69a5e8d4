"""Measuring an embedding: retrieval metrics, the robustness benchmark, the projector."""
