"""Test-wide settings and fixtures. What several test files share but is no fixture lives in
``tests/helpers/`` (``from helpers.spaces import DARTS``): test files never import each other."""
import os

import pytest

# One intra-op thread: CI has 2 cores and runs test processes side by side; torch's default
# thread pool oversubscribes them (a small step can take 100x longer under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch
except ImportError:  # the compiler's tests do not need torch
    torch = None
if torch is not None:
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs on one intra-op thread, and a test that changes it (``--threads N`` of an
    in-process command) does not leave it changed: these models are tiny, one thread is faster,
    and far faster on a busy machine (two spinning threads per process)."""
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """A test that shows nascompile's log on stdout (a verbose trainer, an in-process command)
    leaves the ``nascompile`` logger as it found it, so later tests see what a fresh process would."""
    import logging

    logger = logging.getLogger("nascompile")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def chromium():
    """The browser tests' gate: they skip without Chromium, except under CI (``CI`` set), where
    they fail (``bash scripts/test.sh`` installs it)."""
    from browser import find_chromium

    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI: chromium is required for the browser tests (bash scripts/test.sh installs it)")
        pytest.skip("chromium is not installed")
