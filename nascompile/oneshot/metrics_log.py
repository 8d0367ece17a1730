"""``metrics.jsonl``: one JSON object per logged step (``"kind": "step"``) and per epoch
(``"kind": "epoch"``), appended as the search goes. A resumed run first drops the records
written after its checkpoint, so the log of a killed and resumed run has no record twice."""
from __future__ import annotations

import json
from pathlib import Path

from .. import atomic

__all__ = ["MetricsLog"]


class MetricsLog:
    """The log at ``path`` (None: no log); only the main rank writes (``enabled``)."""

    def __init__(self, path, enabled: bool = True):
        self.path = Path(path) if path is not None else None
        self.enabled = enabled and self.path is not None

    def append(self, record: dict) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def truncate(self, epoch: int, global_step: int) -> None:
        """Keep the epoch records before ``epoch`` and the step records up to ``global_step``."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill
            done = (record.get("epoch", 0) < epoch if record.get("kind") == "epoch"
                    else record.get("global_step", 0) <= global_step)
            if done:
                kept.append(line)
        atomic.write_text(self.path, "".join(line + "\n" for line in kept))
