"""The run page as HTML: ``templates/ui.html.j2`` with the snapshot embedded as JSON.

``render_page(snapshot, live=False)`` is the self-contained report (of one run, or of several:
:func:`~.compare.collect_runs`); with ``live=True`` the page also polls ``poll_url`` every 2 s
and redraws without a reload (``nascompile ui``).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..resources import data_file


def to_json(snapshot: dict) -> str:
    """JSON safe to embed in a <script> element (no '</', no '<!--')."""
    text = json.dumps(snapshot, default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(snapshot: dict, live: bool = False, poll_url: str = "api/run") -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_file("templates", "ui.html.j2").parent)),
                             autoescape=True)
    run = snapshot.get("run") or {}
    if snapshot.get("kind") == "compare":
        title = "comparison: " + ", ".join(str(r.get("name")) for r in snapshot.get("runs") or [])
    else:
        title = f"{Path(str(run.get('dir', 'run'))).name} ({run.get('algo') or snapshot.get('kind')})"
    return env.get_template("ui.html.j2").render(
        title=title, data_json=Markup(to_json(snapshot)), live=live, poll_url=poll_url)
