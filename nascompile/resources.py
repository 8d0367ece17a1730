"""Where the data files live: inside the installed package, or beside it in a source checkout."""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """The folder of ``grammar``, ``schemas`` or ``templates``."""
    for candidate in (_HERE / kind, _HERE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"nascompile is installed without its {kind}/ folder")


def data_file(kind: str, name: str) -> Path:
    return data_dir(kind) / name
