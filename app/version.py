"""The central system's version: a leaf module, so that anything may import it without importing the app."""
__version__ = "1.0.0"
