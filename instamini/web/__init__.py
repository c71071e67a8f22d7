"""The browser app: static HTML, CSS and JavaScript modules (no build step), served by plugin.py."""

from .plugin import WebModule

__all__ = ["WebModule"]
