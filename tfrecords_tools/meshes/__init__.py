"""Meshes in: finding them in input layouts, loading, voxelising, rendering, framing."""
