"""Studio: an offline creative assistant for writers and illustrators."""

__version__ = "0.1.0"
