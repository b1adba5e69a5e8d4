"""Exports: versioned SavedModels, their signatures' inputs, their calibration, and embedding with them."""
