"""What several test files share, kept out of the test files so that none imports another.

``from helpers.spaces import ...`` (example spaces and architectures), ``helpers.trainers`` (a
tiny supernet and the one-shot trainer checks), ``helpers.trials`` (a multi-trial space and
trial script), ``helpers.cli`` (``python -m nascompile`` as a user runs it). pytest puts
``tests/`` on ``sys.path`` (the default ``prepend`` import mode), as for ``tests/browser``;
fixtures every test gets live in ``tests/conftest.py``.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# The paper spaces moved from examples/ to the zoo; tests keep calling them by their old names.
ZOO_NAMES = {"darts": "darts", "nb201": "nasbench201", "enas_macro": "enas-macro", "enas_micro": "enas-micro"}


def example_path(name: str) -> Path:
    """The document of example ``name``: ``examples/NAME.yaml``, or the zoo's for a paper space."""
    if name in ZOO_NAMES:
        return ROOT / "zoo" / f"{ZOO_NAMES[name]}.yaml"
    return ROOT / "examples" / f"{name}.yaml"
