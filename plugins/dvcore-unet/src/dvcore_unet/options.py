"""Options of the ``unet`` backbone: the lab notes' explicit level schema, or a compact form.

Explicit form (docs/lab_notes.md §G9, verbatim)::

    channels             = [64, 128, 256, 512, 1024]
    down_attn            = [false, false, false, true]
    down_channel_indices = [[0, 0], [0, 1], [1, 2], [2, 3]]
    mid_attn             = [false, true, false]
    mid_channel_indices  = [[3, 4], [4, 4], [4, 3]]
    up_attn              = [true, false, false]
    up_channel_indices   = [[3, 2], [2, 1], [1, 0]]

Each ``[in, out]`` pair indexes ``channels``. With n down levels and an input of H x W:

- down level i works at H/2^i: ``num_res_blocks`` res blocks (the first maps in -> out),
  each followed by attention when ``down_attn[i]``; its output is kept as a skip, then a
  stride-2 conv halves the size. So every down level downsamples, n times in all.
- mid levels work at H/2^n: one res block each (in -> out), then attention if flagged.
- up level j (n - 1 of them) works at H/2^(n-1-j): upsample, concatenate the skip of down
  level n-1-j, ``num_res_blocks`` res blocks to ``out``, attention if flagged. It mirrors
  down level n-1-j, so its output index must be that level's input index.
- a final up level, implicit and without attention, mirrors down level 0: upsample to
  H x W, concatenate down level 0's skip, res blocks to down level 0's input width; then
  GroupNorm, SiLU and a 3x3 conv to the output channels.

For a 256 x 256 input this puts the attention where §G9 says: down level 3
and up level 0 at 32 x 32, the middle at 16 x 16. H and W must be multiples of 2^n.

Compact form: ``base_channels``, ``channel_mult`` (the last multiple is the middle's width)
and ``attention_factors`` expand (``UNetOptions.expand``) into the same schema; the default
(64, [1, 2, 4, 8, 16], [8, 16]) expands to exactly the schema above. Give one form: any
explicit field selects the explicit form, which then needs all seven fields and no compact one.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from dvcore.api import ResStackOptions, each, ge, gt, opt

EXPLICIT_FIELDS = (
    "channels",
    "down_attn",
    "down_channel_indices",
    "mid_attn",
    "mid_channel_indices",
    "up_attn",
    "up_channel_indices",
)
COMPACT_FIELDS = ("base_channels", "channel_mult", "attention_factors")
COMPACT_DEFAULTS = {"base_channels": 64, "channel_mult": [1, 2, 4, 8, 16], "attention_factors": [8, 16]}

# The §G9 schema for 256x256 faces, as data (a recipe writes the same in TOML).
NOTES_256_SCHEMA = {
    "channels": [64, 128, 256, 512, 1024],
    "down_attn": [False, False, False, True],  # attn at 32x32
    "down_channel_indices": [[0, 0], [0, 1], [1, 2], [2, 3]],
    "mid_attn": [False, True, False],  # attn at 16x16
    "mid_channel_indices": [[3, 4], [4, 4], [4, 3]],
    "up_attn": [True, False, False],  # attn at 32x32
    "up_channel_indices": [[3, 2], [2, 1], [1, 0]],
}

Problems = Iterator[tuple[str, str]]


@attrs.frozen(kw_only=True)
class UNetOptions(ResStackOptions):
    """A DDPM UNet: time-conditioned res blocks, self-attention, skips (explicit or compact schema).

    Time embedding, norm groups, attention heads, dropout and checkpointing: ``ResStackOptions``.
    """

    # --- compact form ---
    base_channels: int | None = opt(None, "compact form: width of the first level; unset = 64", gt(0))
    channel_mult: list[int] | None = opt(
        None,
        "compact form: widths as multiples of base_channels, one per down level plus the middle's "
        "(last); unset = [1, 2, 4, 8, 16]",
        each(gt(0)),
    )
    attention_factors: list[int] | None = opt(
        None,
        "compact form: attention at the levels whose maps are the input divided by one of these "
        "(8 = 32x32 for 256x256; the middle is at 2**(len(channel_mult) - 1)); unset = [8, 16]",
        each(gt(0)),
    )
    # --- explicit form (the lab notes' schema) ---
    channels: list[int] | None = opt(
        None, "explicit form: the widths that the *_channel_indices index", each(gt(0))
    )
    down_attn: list[bool] | None = opt(None, "explicit form: attention in each down level")
    down_channel_indices: list[list[int]] | None = opt(
        None, "explicit form: [in, out] indices into channels per down level; each level halves H and W"
    )
    mid_attn: list[bool] | None = opt(None, "explicit form: attention in each mid level")
    mid_channel_indices: list[list[int]] | None = opt(
        None, "explicit form: [in, out] per mid level (one res block each, at the lowest resolution)"
    )
    up_attn: list[bool] | None = opt(None, "explicit form: attention in each up level")
    up_channel_indices: list[list[int]] | None = opt(
        None, "explicit form: [in, out] per up level; up level j mirrors down level n-1-j (n = down levels)"
    )
    # --- both forms ---
    num_res_blocks: int = opt(2, "res blocks per down and up level (a mid level has one)", ge(1))

    # ------------------------------------------------------------------------------------------
    # The two forms
    # ------------------------------------------------------------------------------------------

    @property
    def is_explicit(self) -> bool:
        return any(getattr(self, name) is not None for name in EXPLICIT_FIELDS)

    def expand(self) -> UNetOptions:
        """These options in the explicit form (compact fields unset); explicit ones as they are."""
        if self.is_explicit:
            return self
        compact = {name: getattr(self, name) for name in COMPACT_FIELDS}
        compact = {k: COMPACT_DEFAULTS[k] if v is None else v for k, v in compact.items()}
        return attrs.evolve(self, **expand_compact(**compact), **dict.fromkeys(COMPACT_FIELDS))

    @property
    def num_downsamplings(self) -> int:
        """How many times the model halves H and W (the number of down levels)."""
        return len(self.expand().down_channel_indices or [])

    # ------------------------------------------------------------------------------------------
    # Checks across fields
    # ------------------------------------------------------------------------------------------

    def problems(self) -> Problems:
        """Every inconsistency of the schema, as (field path, message)."""
        if self.is_explicit:
            given = ", ".join(n for n in EXPLICIT_FIELDS if getattr(self, n) is not None)
            bad = False
            for name in COMPACT_FIELDS:
                if getattr(self, name) is not None:
                    bad = True
                    yield name, f"not allowed with the explicit schema ({given} given); use one form"
            for name in EXPLICIT_FIELDS:
                if getattr(self, name) is None:
                    bad = True
                    yield name, f"required by the explicit schema ({given} given), but missing"
            if not bad:
                yield from self._schema_problems()
            return
        mult = self.channel_mult if self.channel_mult is not None else COMPACT_DEFAULTS["channel_mult"]
        if len(mult) < 2:
            yield (
                "channel_mult",
                f"expected at least 2 entries (one down level and the middle), got {len(mult)}",
            )
            return
        factors = [2**i for i in range(len(mult))]
        bad_factor = False
        for k, f in enumerate(self.attention_factors or []):
            if f not in factors:
                bad_factor = True
                yield (
                    f"attention_factors[{k}]",
                    f"expected one of {', '.join(map(str, factors))} (the levels' downsampling factors), "
                    f"got {f}",
                )
        if bad_factor or any(m <= 0 for m in mult) or (self.base_channels or 1) <= 0:
            return
        # The expansion is well formed by construction; only widths (groups, heads) can fail.
        for path, message in self.expand()._schema_problems():
            where = "attention_factors" if "_attn" in path else "channel_mult"
            yield where, f"in the expanded schema, {path}: {message}"

    def _schema_problems(self) -> Problems:
        channels = self.channels or []
        sections = {
            "down": (self.down_attn or [], self.down_channel_indices or []),
            "mid": (self.mid_attn or [], self.mid_channel_indices or []),
            "up": (self.up_attn or [], self.up_channel_indices or []),
        }
        if not channels:
            yield "channels", "expected at least one width, got none"
            return
        if not sections["down"][1]:
            yield "down_channel_indices", "expected at least one down level, got none"
        for name, (attn, indices) in sections.items():
            if len(attn) != len(indices):
                yield (
                    f"{name}_attn",
                    f"expected {len(indices)} entries (one per level of {name}_channel_indices), "
                    f"got {len(attn)}",
                )
        # Each pair is [in, out] with indices into channels; levels chain down -> mid -> up.
        pairs: dict[str, list[tuple[int, int] | None]] = {}
        previous: int | None = None
        for name, (_attn, indices) in sections.items():
            pairs[name] = []
            for i, pair in enumerate(indices):
                path = f"{name}_channel_indices[{i}]"
                if len(pair) != 2:
                    yield path, f"expected [input, output] indices, got {len(pair)} numbers"
                    pairs[name].append(None)
                    previous = None
                    continue
                out_of_range = [k for k in pair if not 0 <= k < len(channels)]
                if out_of_range:
                    yield (
                        path,
                        f"expected indices into channels (0..{len(channels) - 1}), got {out_of_range[0]}",
                    )
                    pairs[name].append(None)
                    previous = None
                    continue
                if previous is not None and pair[0] != previous:
                    yield (
                        path,
                        f"input index {pair[0]} does not match the previous level's output index {previous}",
                    )
                pairs[name].append((pair[0], pair[1]))
                previous = pair[1]
        # Up level j mirrors down level n-1-j; down level 0 is mirrored by the implicit output level.
        down, up = pairs["down"], pairs["up"]
        if down and len(up) != len(down) - 1:
            yield (
                "up_channel_indices",
                f"expected {len(down) - 1} levels (mirroring down levels {len(down) - 1}..1), got {len(up)}",
            )
        for j, pair in enumerate(up):
            mirror = len(down) - 1 - j
            if pair is None or not 0 < mirror < len(down) or down[mirror] is None:
                continue
            if pair[1] != down[mirror][0]:
                yield (
                    f"up_channel_indices[{j}]",
                    f"expected output index {down[mirror][0]} (the input index of the mirrored "
                    f"down_channel_indices[{mirror}]), got {pair[1]}",
                )
        # Widths: GroupNorm groups everywhere, attention heads where attention is on.
        for i, c in enumerate(channels):
            message = self.groups_problem(c)
            if message:
                yield f"channels[{i}]", message
        for name, (attn, _indices) in sections.items():
            for i, (on, pair) in enumerate(zip(attn, pairs[name], strict=False)):
                if on and pair is not None:
                    message = self.heads_problem(channels[pair[1]])
                    if message:
                        yield f"{name}_attn[{i}]", f"{message} (channels[{pair[1]}])"


def expand_compact(base_channels: int, channel_mult: list[int], attention_factors: list[int]) -> dict:
    """The explicit schema of a compact spec: n = len(channel_mult) - 1 down levels, 3 mid, n - 1 up.

    Down level 0 keeps the first width ([0, 0]), down level i >= 1 goes [i-1, i]; the middle
    widens to the last width and back ([n-1, n], [n, n], [n, n-1]) with attention, if asked
    for at factor 2^n, in its centre level only; up levels mirror down levels n-1..1.
    """
    n = len(channel_mult) - 1
    wants = set(attention_factors)
    return {
        "channels": [base_channels * m for m in channel_mult],
        "down_attn": [2**i in wants for i in range(n)],
        "down_channel_indices": [[0, 0]] + [[i - 1, i] for i in range(1, n)],
        "mid_attn": [False, 2**n in wants, False],
        "mid_channel_indices": [[n - 1, n], [n, n], [n, n - 1]],
        "up_attn": [2 ** (n - 1 - j) in wants for j in range(n - 1)],
        "up_channel_indices": [[i, i - 1] for i in range(n - 1, 0, -1)],
    }
