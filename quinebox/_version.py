"""The version of quinebox, in a leaf module that the package root and the report builder both import."""

__version__ = "0.1.0"
