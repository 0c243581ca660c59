"""A stand-in for Colab's google.colab package in tests: only the part the course's Colab cell uses."""

from . import output

__all__ = ["output"]
