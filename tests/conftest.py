"""Test-wide settings."""
import os

# One intra-op thread: CI has 2 cores and runs test processes side by side; torch's default
# thread pool oversubscribes them (a small step can take 100x longer under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch
except ImportError:  # the compiler's tests do not need torch
    torch = None
if torch is not None:
    torch.set_num_threads(1)
