"""``nni.nas.pytorch.proxylessnas``: ProxylessNAS with NNI v1's signature and schedule
(:mod:`nascompile.oneshot.proxyless_nni`)."""
from ...oneshot.nni_mutators import ProxylessNasMutator
from ...oneshot.proxyless_nni import ProxylessNasTrainer, cross_entropy_with_label_smoothing

__all__ = ["ProxylessNasTrainer", "ProxylessNasMutator", "cross_entropy_with_label_smoothing"]
