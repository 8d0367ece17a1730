"""nascompile: write a neural architecture search space once, compile it to supernets,
tuner files and standalone PyTorch models."""
from .compiler import Space, compile_text, load_space
from .errors import ArchError, NasError, SpaceError

__version__ = "0.1.0"
__all__ = ["Space", "compile_text", "load_space", "NasError", "SpaceError", "ArchError", "__version__"]
