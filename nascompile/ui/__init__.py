"""The run page: a snapshot of a run directory (:func:`collect`), drawn as one HTML page
(:func:`render_page`), served live on loopback (:func:`make_server`) or written as a report;
several runs compared on one page (:func:`collect_runs`)."""
from .collect import collect
from .compare import collect_runs
from .render import render_page
from .server import make_server
from .space_view import space_view

__all__ = ["collect", "collect_runs", "render_page", "make_server", "space_view"]
