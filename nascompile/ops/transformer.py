"""Vision-transformer ops (ViT, AutoFormer): patch embedding, class token, position embeddings,
multi-head self-attention, the pre-norm encoder block, drop path and token pooling.

**Token layout.** One sample's tokens are ``[N, D]`` (``N`` tokens of ``D`` features; the batch
tensor is ``[B, N, D]``, as ``nn.Linear`` and ``nn.LayerNorm`` take it). A transformer space
starts from an image ``[C, H, W]``: ``patch_embed`` turns it into tokens, ``token_pool`` turns
tokens into a feature vector ``[D]`` for ``linear``. ``layer_norm`` normalises the last dim.

**Costs.** Parameters are exactly ``sum(p.numel())`` of ``build``. MACs count every linear
map and matmul: the patch convolution, the q/k/v and output projections (``N * D * inner``
each, ``inner = heads * head_dim``), the two attention matmuls ``Q K^T`` and ``A V``
(``N * N * inner`` each), with relative positions the two matmuls with their embeddings
(``N * N * inner`` each again), and the MLP's two linears (``N * D * hidden`` each); softmax,
norms, GELU and the position-table look-ups are not counted (as NNI and fvcore do not).

Weight sharing: every op here is shareable by the generic superkernel rule (first ``n`` along
each dimension), which is AutoFormer's weight entanglement: embed dim ``d`` uses the first
``d`` features of every weight, ``h`` heads the first ``h * head_dim`` rows of q/k/v and
columns of the output projection, MLP ratio ``r`` the first ``int(d * r)`` hidden units; layer
norms are sliced the same way. torch is imported only inside ``build``.
"""
from __future__ import annotations

from ..errors import SpaceError
from ..ir.values import apply, is_sym
from .code import Call, call
from .registry import Op, Param, REQUIRED, register

__all__ = ["instantiate"]


def instantiate(form):
    """The module a code form (:class:`~.code.Call` tree of :mod:`.vit_layers` and ``nn``
    classes) describes: ``build`` and ``code`` of these ops are one description."""
    if not isinstance(form, Call):
        return form
    import torch.nn as nn
    from . import vit_layers
    owner, _, name = form.fn.rpartition(".")
    cls = getattr(nn, name) if owner == "nn" else getattr(vit_layers, name)
    return cls(*[instantiate(v) for v in form.args], **{k: instantiate(v) for k, v in form.kwargs})


class _FormOp(Op):
    """An op whose ``build`` instantiates its ``code`` form."""

    def build(self, x, a):
        return instantiate(self.code(x, a))


@register
class PatchEmbed(_FormOp):
    """ViT patch embedding: a ``patch x patch`` convolution of stride ``patch`` (bias) to ``dim``
    channels, flattened row by row: ``[C, H, W] -> [(H // patch) * (W // patch), dim]``."""

    name = "patch_embed"
    params = (Param("dim", REQUIRED, "pos_int"), Param("patch", 16, "pos_int", static=True))
    ranks = (3,)

    def shape(self, x, a, ctx):
        for side in x[1:]:
            ctx.require(apply("ge", side, a.patch), f"patch_embed: input {tuple(x)} is smaller than patch {a.patch}")
        return ((x[1] // a.patch) * (x[2] // a.patch), a.dim)

    def cost(self, x, out, a):
        weights = a.dim * x[0] * a.patch * a.patch
        return weights + a.dim, weights * out[0]

    def code(self, x, a):
        return call("PatchEmbed", x[0], a.dim, a.patch)


@register
class ClassToken(_FormOp):
    """Prepends a learnt class token: ``[N, D] -> [N + 1, D]`` (``D`` parameters)."""

    name = "class_token"
    ranks = (2,)

    def shape(self, x, a, ctx):
        return (x[0] + 1, x[1])

    def cost(self, x, out, a):
        return x[1], 0

    def code(self, x, a):
        return call("ClassToken", x[1])


@register
class PosEmbed(_FormOp):
    """Adds a learnt absolute position embedding, one ``D``-vector per token (``N * D``)."""

    name = "pos_embed"
    ranks = (2,)

    def cost(self, x, out, a):
        return x[0] * x[1], 0

    def code(self, x, a):
        return call("PositionEmbedding", x[0], x[1])


def _grid(name, n, a):
    """The side of the square patch grid behind ``n`` tokens (a class token first) and the
    clipping length of the relative positions (default: the side, as AutoFormer's)."""
    if is_sym(n):
        raise SpaceError(f"{name}: relative positions need a token count that no choice changes")
    side = int(round((n - 1) ** 0.5))
    if n < 2 or side * side != n - 1:
        raise SpaceError(f"{name}: relative positions need a class token and a square grid of patches "
                         f"(tokens - 1 a square), got {n} tokens",
                         hint="put class_token after patch_embed of a square image, or rpe=false")
    return side, (side if a.rpe_length is None else a.rpe_length)


_ATTN_PARAMS = (Param("head_dim", 64, "pos_int", static=True), Param("qkv_bias", True, "bool"),
                Param("rpe", False, "bool"), Param("rpe_length", None, "pos_int", static=True),
                Param("attn_drop", 0.0, "prob"))


def _attn_shape(name, x, a, ctx):
    if a.rpe:
        _grid(name, x[0], a)
    return tuple(x)


def _attn_cost(name, x, a):
    """(parameters, MACs) of the attention of ``[N, D]`` tokens (see the module docstring)."""
    n, d = x
    inner = a.heads * a.head_dim
    params = 3 * (d * inner + (inner if a.qkv_bias else 0)) + inner * d + d
    macs = 4 * n * d * inner + 2 * n * n * inner
    if a.rpe:
        length = _grid(name, n, a)[1]
        params = params + 4 * (2 * length + 2) * a.head_dim
        macs = macs + 2 * n * n * inner
    return params, macs


def _attn_form(x, a, proj_drop=0.0):
    kwargs = {}
    if a.rpe:
        length = _grid("mhsa", x[0], a)[1]
        kwargs = {"rpe_k": call("RelativePosition2D", a.head_dim, length),
                  "rpe_v": call("RelativePosition2D", a.head_dim, length)}
    return call("SelfAttention", x[1], a.heads, head_dim=a.head_dim, qkv_bias=a.qkv_bias, **kwargs,
                attn_drop=a.attn_drop, proj_drop=proj_drop)


@register
class Mhsa(_FormOp):
    """Multi-head self-attention on ``[N, D]`` tokens with a fixed head dimension (AutoFormer's:
    ``heads`` is searchable, each head ``head_dim`` wide): separate q/k/v linears to
    ``heads * head_dim`` (bias ``qkv_bias``), an output linear back to ``D`` (bias).
    ``rpe=true`` adds AutoFormer's 2-D relative position embeddings to keys and values (a
    class token and a square grid; distances clipped at ``rpe_length``, default the grid side)."""

    name = "mhsa"
    params = (Param("heads", REQUIRED, "pos_int"),) + _ATTN_PARAMS + (Param("proj_drop", 0.0, "prob"),)
    ranks = (2,)

    def shape(self, x, a, ctx):
        return _attn_shape(self.name, x, a, ctx)

    def cost(self, x, out, a):
        return _attn_cost(self.name, x, a)

    def code(self, x, a):
        return _attn_form(x, a, a.proj_drop)


def _hidden(x, a):
    return apply("int", x[1] * a.mlp_ratio)


@register
class TransformerBlock(_FormOp):
    """A transformer encoder layer on ``[N, D]`` tokens: ``mhsa`` then an MLP of
    ``int(D * mlp_ratio)`` hidden units (linear, GELU, linear), each inside a residual with a
    layer norm before the branch (``pre_norm``, as ViT and AutoFormer; else after the sum);
    ``drop`` after the attention and each MLP linear, ``drop_path`` on both branches."""

    name = "transformer_block"
    params = ((Param("heads", REQUIRED, "pos_int"), Param("mlp_ratio", 4.0, "float")) + _ATTN_PARAMS
              + (Param("drop", 0.0, "prob"), Param("drop_path", 0.0, "prob"), Param("pre_norm", True, "bool")))
    ranks = (2,)

    def shape(self, x, a, ctx):
        ctx.require(apply("ge", _hidden(x, a), 1),
                    f"transformer_block: mlp_ratio {a.mlp_ratio} leaves no hidden units for width {x[1]}")
        return _attn_shape(self.name, x, a, ctx)

    def cost(self, x, out, a):
        n, d = x
        hidden = _hidden(x, a)
        params, macs = _attn_cost(self.name, x, a)
        return (params + 4 * d + d * hidden + hidden + hidden * d + d,
                macs + 2 * n * d * hidden)

    def code(self, x, a):
        return call("TransformerBlock", x[1], _hidden(x, a), attn=_attn_form(x, a),
                    drop=a.drop, drop_path=a.drop_path, pre_norm=a.pre_norm)


@register
class DropPath(_FormOp):
    """Stochastic depth: in training each sample is zeroed with probability ``p`` (the rest
    scaled by ``1 / (1 - p)``); the identity in evaluation. Any shape, no parameters."""

    name = "drop_path"
    params = (Param("p", 0.0, "prob"),)

    def code(self, x, a):
        return call("DropPath", a.p)


@register
class TokenPool(_FormOp):
    """Tokens to a feature vector, ``[N, D] -> [D]``: ``mode="mean"`` averages the tokens after
    the first ``skip`` (``skip=1`` leaves a class token out, AutoFormer's global pooling);
    ``mode="first"`` takes the first token (a class-token head)."""

    name = "token_pool"
    params = (Param("mode", "mean", "str"), Param("skip", 0, "nonneg_int", static=True))
    ranks = (2,)

    def shape(self, x, a, ctx):
        if a.mode not in ("mean", "first"):
            raise SpaceError(f"token_pool: mode must be 'mean' or 'first', got {a.mode!r}")
        ctx.require(apply("gt", x[0], a.skip if a.mode == "mean" else 0),
                    f"token_pool: {x[0]} tokens leave none to pool after skipping {a.skip}")
        return (x[1],)

    def code(self, x, a):
        return call("TokenPool", a.mode, a.skip)
