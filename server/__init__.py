"""Voice tutor: answers questions about a set of articles, only from them, out loud."""

__version__ = "0.1.0"
