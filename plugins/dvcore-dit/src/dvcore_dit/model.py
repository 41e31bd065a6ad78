"""DiT: a transformer over image patches for diffusion (Peebles & Xie 2023, arXiv:2212.09748).

Differences from the paper's model, each on purpose:

- Unconditional. The paper conditions adaLN on c = t_emb + y_emb, with a class table of
  (1000 + 1) x hidden (the extra row is the "null" label of classifier-free guidance). Here
  c = t_emb only, so the table is absent: 0.38M fewer parameters for DiT-S, 0.77M for DiT-B,
  1.15M for DiT-XL. Context (frames to interpolate from) enters as input channels, as for every
  dvcore backbone.
- Any image size. The fixed 2D sin-cos position embedding is computed for the patch grid of
  the image at hand and cached per (grid, device, dtype); it is never a parameter, so a model
  trained at 64x64 runs at 32x48 or 128x128 unchanged. H and W must be multiples of the patch.
- Output channels. The task hands ``out_channels`` (what it predicts: eps, x0 or v). With
  ``learn_sigma`` the model returns 2 * out_channels: the prediction, then the per-pixel
  variance values of Improved DDPM (Nichol & Dhariwal 2021, eq. 15). Only a loss/sampler that
  knows about learned variance may use it; it splits the output with ``out.chunk(2, dim=1)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from dvcore.nn import Attention, Mlp, TimestepEmbedder, TransformerDims, sincos_2d


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: scale and shift normalised tokens, per sample."""
    return x * (1 + scale[:, None]) + shift[:, None]  # (B, N, D)


# ----------------------------------------------------------------------------------------------
# Embedding layers for patches (the timestep embedder and the positions come from dvcore.nn)
# ----------------------------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    """Non-overlapping p x p patches to tokens: a conv with kernel = stride = p."""

    def __init__(self, in_channels: int, hidden_size: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, hidden_size, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, h*w, D), row-major over the grid


# ----------------------------------------------------------------------------------------------
# Core DiT block (attention and MLP are dvcore.nn's ViT blocks)
# ----------------------------------------------------------------------------------------------


class DiTBlock(nn.Module):
    """Transformer block with adaLN-Zero: shift, scale and a gate per branch, regressed from c."""

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads, attn_dropout=attn_dropout, dropout=dropout)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio), dropout)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mod = self.adaLN_modulation(c).chunk(6, dim=1)  # 6 x (B, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
        x = x + gate_msa[:, None] * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))  # (B, N, D)
        x = x + gate_mlp[:, None] * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))  # (B, N, D)
        return x


class FinalLayer(nn.Module):
    """adaLN (shift, scale) then a linear map from each token to its p x p x C_out pixels."""

    def __init__(self, hidden_size: int, patch: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)  # 2 x (B, D)
        x = modulate(self.norm_final(x), shift, scale)  # (B, N, D)
        return self.linear(x)  # (B, N, p*p*C_out)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


class DiT(nn.Module):
    """Diffusion transformer: patchify, add 2D sin-cos positions, adaLN-Zero blocks on t, unpatchify."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        patch: int = 4,
        hidden_size: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        learn_sigma: bool = False,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        grad_checkpointing: bool = False,
    ):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        if hidden_size % 4:
            raise ValueError(
                f"hidden_size must be a multiple of 4 for the 2D sin-cos positions, got {hidden_size}"
            )
        self.in_channels = in_channels
        self.learn_sigma = learn_sigma
        self.out_channels = 2 * out_channels if learn_sigma else out_channels  # what forward returns
        self.patch = patch
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.grad_checkpointing = grad_checkpointing

        self.x_embedder = PatchEmbed(in_channels, hidden_size, patch)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.blocks = nn.ModuleList(
            DiTBlock(hidden_size, num_heads, mlp_ratio, dropout, attn_dropout) for _ in range(depth)
        )
        self.final_layer = FinalLayer(hidden_size, patch, self.out_channels)
        self._pos_cache: dict[tuple[int, int, torch.device, torch.dtype], torch.Tensor] = {}
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """DiT's initialisation (paper §3.2, "adaLN-Zero").

        Linear layers get Xavier-uniform weights and zero biases, the patch conv is treated as a
        linear layer on flattened patches, and the timestep MLP starts at N(0, 0.02). Then every
        adaLN regression is zeroed, so all gates are 0 and each block starts as the identity
        (the paper's best-FID conditioning); and the final layer is zeroed, so the initial output
        is exactly 0: the mean of the eps target, a safe start for any prediction target.
        """

        def xavier(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

        self.apply(xavier)
        w = self.x_embedder.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.proj.bias)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def pos_embed(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The fixed positions of an h x w patch grid, (1, h*w, D); computed once per size."""
        key = (h, w, device, dtype)
        if key not in self._pos_cache:
            table = sincos_2d(self.hidden_size, h, w)  # (h*w, D), float64 on the CPU
            self._pos_cache[key] = table.to(device=device, dtype=dtype)[None]  # (1, h*w, D)
        return self._pos_cache[key]

    def unpatchify(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Tokens of p*p*C pixels back to an image: (B, h*w, p*p*C) -> (B, C, h*p, w*p)."""
        p, C = self.patch, self.out_channels
        x = x.reshape(x.shape[0], h, w, p, p, C)  # (B, h, w, p, p, C)
        x = torch.einsum("nhwpqc->nchpwq", x)  # (B, C, h, p, w, p)
        return x.reshape(x.shape[0], C, h * p, w * p)  # (B, C, H, W)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x (B, C_in, H, W), float timesteps t (B,) -> (B, C_out, H, W); C_out doubles with learn_sigma."""
        H, W = x.shape[-2:]
        p = self.patch
        if H % p or W % p:
            raise ValueError(
                f"DiT with patch {p} needs H and W divisible by {p}, got {H}x{W} "
                f"(nearest sizes: {H // p * p or p}x{W // p * p or p} or {-(-H // p) * p}x{-(-W // p) * p})"
            )
        h, w = H // p, W // p
        tokens = self.x_embedder(x)  # (B, N, D), N = h*w
        tokens = tokens + self.pos_embed(h, w, tokens.device, tokens.dtype)  # (B, N, D)
        c = self.t_embedder(t)  # (B, D)
        for block in self.blocks:
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                tokens = checkpoint(block, tokens, c, use_reentrant=False)  # (B, N, D)
            else:
                tokens = block(tokens, c)  # (B, N, D)
        tokens = self.final_layer(tokens, c)  # (B, N, p*p*C_out)
        return self.unpatchify(tokens, h, w)  # (B, C_out, H, W)

    def extra_repr(self) -> str:
        return (
            f"patch={self.patch}, hidden_size={self.hidden_size}, depth={len(self.blocks)}, "
            f"heads={self.num_heads}, learn_sigma={self.learn_sigma}"
        )


# ----------------------------------------------------------------------------------------------
# Size presets (the paper's Table 1): name -> (depth, width = hidden_size, heads)
# ----------------------------------------------------------------------------------------------

DIT_SIZES: dict[str, TransformerDims] = {
    "S": TransformerDims(12, 384, 6),
    "B": TransformerDims(12, 768, 12),
    "L": TransformerDims(24, 1024, 16),
    "XL": TransformerDims(28, 1152, 16),
}
