"""The package version, in utils so that every layer reads it without importing the package face."""

__version__ = "0.1.0"
