"""The initialization explorer: ``lab`` holds the idea (controls -> numbers -> plot); the rest is machinery."""

from .lab import InitExplorer, init_explorer

__all__ = ["InitExplorer", "init_explorer"]
