"""The torch modules of the vision-transformer ops (:mod:`.transformer`).

Tokens are ``[batch, tokens, dim]`` (one sample ``[N, D]``). Like :mod:`.layers`, each class is
self-contained (``torch`` and ``nn`` only): a generated model file embeds the source of those it
uses. A module built from others takes them as constructor arguments (the attention of a
block, the relative position tables of an attention), so a code form names every class it needs.

Every weight whose size follows the embedding dimension, the head count or the MLP ratio lies
along leading dimensions of rank-1/2 tensors (the class token is ``[1, D]``, the position
embedding ``[N, D]``, q/k/v/proj separate linears), so a smaller size is the first ``n`` entries
of a larger one's: the superkernel rule of :mod:`nascompile.passes.sharing` is AutoFormer's
weight entanglement.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class PatchEmbed(nn.Module):
    """A ``patch x patch`` convolution of stride ``patch`` (bias), its grid flattened row by row
    into tokens: ``[B, C, H, W] -> [B, (H // patch) * (W // patch), dim]``."""

    def __init__(self, c_in: int, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(c_in, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ClassToken(nn.Module):
    """Prepends one learnt token: ``[B, N, D] -> [B, N + 1, D]``."""

    def __init__(self, dim: int):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, dim))
        nn.init.trunc_normal_(self.token, std=0.02)

    def forward(self, x):
        return torch.cat([self.token.unsqueeze(0).expand(x.shape[0], -1, -1), x], dim=1)


class PositionEmbedding(nn.Module):
    """Adds a learnt ``[N, D]`` absolute position embedding."""

    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(tokens, dim))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, x):
        return x + self.weight


class RelativePosition2D(nn.Module):
    """2-D relative position embeddings of a class token followed by a square grid of patches
    (AutoFormer's): the row offset and the column offset between two patches, each clipped to
    ``[-length, length]``, index a table of ``2 * length + 2`` rows (row 0: any pair with the
    class token); the two rows found are added. ``forward(n)`` gives ``[n, n, head_dim]``."""

    def __init__(self, head_dim: int, length: int):
        super().__init__()
        self.length = length
        self.rows = nn.Parameter(torch.zeros(2 * length + 2, head_dim))
        self.cols = nn.Parameter(torch.zeros(2 * length + 2, head_dim))
        nn.init.trunc_normal_(self.rows, std=0.02)
        nn.init.trunc_normal_(self.cols, std=0.02)

    def forward(self, n: int):
        side = int(round((n - 1) ** 0.5))
        pos = torch.arange(n - 1, device=self.rows.device)
        row, col = pos // side, pos % side

        def index(coord):
            offset = (coord[None, :] - coord[:, None]).clamp(-self.length, self.length) + self.length + 1
            return nn.functional.pad(offset, (1, 0, 1, 0))  # 0: the class token's row and column

        return self.rows[index(row)] + self.cols[index(col)]


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fixed head dimension (AutoFormer's): ``heads`` heads of
    ``head_dim`` each, separate q/k/v projections (``qkv_bias``) and an output projection (bias);
    with ``rpe_k``/``rpe_v`` (:class:`RelativePosition2D`) the relative embeddings enter the
    scores (``q . r_k``) and the values (``attn . r_v``)."""

    def __init__(self, dim: int, heads: int, head_dim: int = 64, qkv_bias: bool = True,
                 rpe_k=None, rpe_v=None, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim, self.scale = heads, head_dim, head_dim ** -0.5
        self.q = nn.Linear(dim, inner, bias=qkv_bias)
        self.k = nn.Linear(dim, inner, bias=qkv_bias)
        self.v = nn.Linear(dim, inner, bias=qkv_bias)
        self.proj = nn.Linear(inner, dim)
        self.rpe_k, self.rpe_v = rpe_k, rpe_v
        self.attn_drop, self.proj_drop = nn.Dropout(attn_drop), nn.Dropout(proj_drop)

    def forward(self, x):
        b, n, _ = x.shape

        def split(t):
            return t.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-2, -1)
        if self.rpe_k is not None:
            scores = scores + torch.einsum("bhid,ijd->bhij", q, self.rpe_k(n))
        attn = self.attn_drop((scores * self.scale).softmax(dim=-1))
        out = attn @ v
        if self.rpe_v is not None:
            out = out + torch.einsum("bhij,ijd->bhid", attn, self.rpe_v(n))
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)))


class DropPath(nn.Module):
    """Stochastic depth: in training, each sample's tensor is zeroed with probability ``p`` and
    the others scaled by ``1 / (1 - p)``; the identity in evaluation."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class TransformerBlock(nn.Module):
    """A transformer encoder layer: attention then an MLP (``fc1``, GELU, ``fc2``), each with a
    residual and a layer norm — before the branch (``pre_norm``, ViT's and AutoFormer's
    default) or after the sum; ``drop`` after the attention and each linear of the MLP,
    ``drop_path`` on both branches."""

    def __init__(self, dim: int, hidden: int, attn: nn.Module, drop: float = 0.0,
                 drop_path: float = 0.0, pre_norm: bool = True):
        super().__init__()
        self.pre_norm = pre_norm
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = attn
        self.ffn_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)
        self.drop_path = drop_path

    def _dropped(self, x):  # DropPath's rule, here so that a generated file needs no other class
        if not self.training or self.drop_path == 0.0:
            return x
        keep = 1.0 - self.drop_path
        return x * x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep) / keep

    def _branch(self, x, norm, body):
        if self.pre_norm:
            return x + self._dropped(body(norm(x)))
        return norm(x + self._dropped(body(x)))

    def forward(self, x):
        x = self._branch(x, self.attn_norm, lambda t: self.drop(self.attn(t)))
        return self._branch(x, self.ffn_norm,
                            lambda t: self.drop(self.fc2(self.drop(self.act(self.fc1(t))))))


class TokenPool(nn.Module):
    """Tokens to one vector: the mean of the tokens after the first ``skip`` (``mean``; skip 1
    leaves out a class token) or the first token (``first``: a class-token head)."""

    def __init__(self, mode: str = "mean", skip: int = 0):
        super().__init__()
        self.mode, self.skip = mode, skip

    def forward(self, x):
        return x[:, 0] if self.mode == "first" else x[:, self.skip:].mean(1)
