"""The run page: a snapshot of a run directory (:func:`collect`), drawn as one HTML page
(:func:`render_page`), served live on loopback (:func:`make_server`) or written as a report."""
from .collect import collect
from .render import render_page
from .server import make_server
from .space_view import space_view

__all__ = ["collect", "render_page", "make_server", "space_view"]
