"""The package version (one place: read by hatch at build time and by the model files)."""

__version__ = "0.1.0"
