"""trayproxy: a tray/menubar LLM API gateway in front of a pool of Google Cloud Code accounts."""

__version__ = "0.1.0"
__all__ = ["__version__"]
