"""fireline: incident runbooks and chaos game days."""

from runner import classcode as _classcode

__version__ = "0.1.0"

# Before any of fireline's modules defines a dataclass: their methods come compiled from the user's cache.
_classcode.install()
