"""``nni.nas.pytorch.classic_nas``: a trial of a multi-trial search (:mod:`nascompile.nn.trial`).

``get_and_apply_next_architecture(model)`` honours ``NNI_GEN_SEARCH_SPACE`` (writes the search
space, exits) and NNI's ``{"_value", "_idx"}`` parameters; ``prune=False`` keeps the whole model,
as NNI's classic mutator did. ``report_final_result`` / ``report_intermediate_result`` stand for
``nni.report_final_result`` / ``nni.report_intermediate_result``.
"""
from ...nn.trial import get_and_apply_next_architecture, report_final_result, report_intermediate_result

__all__ = ["get_and_apply_next_architecture", "report_final_result", "report_intermediate_result"]
