"""NNI v1's module layout over nascompile, so that an NNI v1 script migrates by one
search-and-replace of its import prefix: ``nni.nas.pytorch`` -> ``nascompile.nas.pytorch``.

Everything here re-exports or adapts (NNI's positional order and defaults) what lives in
:mod:`nascompile.nn`, :mod:`nascompile.oneshot` and :mod:`nascompile.train`; see
:mod:`nascompile.nas.pytorch` for the map and for what behaves differently on purpose.
"""
