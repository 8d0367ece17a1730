"""What several test files share, kept out of the test files so that none imports another.

``from helpers.spaces import ...`` (example spaces and architectures), ``helpers.trainers`` (a
tiny supernet and the one-shot trainer checks), ``helpers.trials`` (a multi-trial space and
trial script), ``helpers.cli`` (``python -m nascompile`` as a user runs it). pytest puts
``tests/`` on ``sys.path`` (the default ``prepend`` import mode), as for ``tests/browser``;
fixtures every test gets live in ``tests/conftest.py``.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
