"""fireline: incident runbooks and chaos game days."""

__version__ = "0.1.0"
