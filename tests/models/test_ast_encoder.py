"""ASTEncoder behaviour: presets, token grids, frame tokens, padding invariance, masking, maps."""

from __future__ import annotations

import pytest
import torch

from pianox import registry
from pianox.errors import ConfigError
from pianox.models.ast import ASTEncoder


def small(**fields) -> ASTEncoder:
    """A 2-layer, 64-dim encoder (4 heads) on 128 bins, in eval mode, seeded."""
    torch.manual_seed(0)
    config = ASTEncoder.Config(**{"dim": 64, "depth": 2, "heads": 4, "max_frames": 256, **fields})
    return ASTEncoder(config, num_bins=128).eval()


def test_registered_as_model_plugin():
    assert registry.load("model", "ast") is ASTEncoder


@pytest.mark.parametrize("preset,dim,params", [
    # Hugging Face ASTModel of the same size has 768/384/192 fewer: pianox adds the SSAST mask embedding.
    ("tiny", 192, 5_621_568 + 192),
    ("small", 384, 21_859_968 + 384),
    ("base", 768, 86_187_264 + 768),
])
def test_preset_sizes_and_parameter_counts(preset, dim, params):
    with torch.device("meta"):
        enc = ASTEncoder(ASTEncoder.Config(preset=preset), num_bins=128)
    assert (enc.dim, enc.depth, len(enc.blocks)) == (dim, 12, 12)
    assert enc.heads == {"tiny": 3, "small": 6, "base": 12}[preset]
    assert sum(p.numel() for p in enc.parameters()) == params


@pytest.mark.parametrize("fields,frames,grid,positions", [
    ({}, 1024, (12, 101), 1214),                                   # AST: 10/10 overlap
    ({"fstride": 16, "tstride": 16}, 1024, (8, 64), 514),          # no overlap
    ({"patch": "frame"}, 1024, (1, 512), 514),                     # SSAST frame tokens 128x2
    ({"patch": "frame", "frame_width": 4, "prefix_tokens": 1}, 1024, (1, 256), 257),
])
def test_token_grid_sizes(fields, frames, grid, positions):
    with torch.device("meta"):
        enc = ASTEncoder(ASTEncoder.Config(preset="tiny", **fields), num_bins=128)
    assert enc.grid(frames) == grid == enc.pos_grid
    assert enc.pos_embed.shape == (1, positions, 192)


def test_forward_shapes_and_token_order():
    enc = small(fstride=16, tstride=16)
    x = torch.randn(2, 96, 128)
    out = enc(x)
    assert enc.grid(96) == (8, 6) and out.shape == (2, 2 + 48, 64)
    assert enc.to_grid(out, 96).shape == (2, 8, 6, 64)
    # Frequency-major order: token n covers bins [16 (n // 6), +16) and frames [16 (n % 6), +16).
    # Perturb one patch (f=3, t=4) and check the embedding changes only at token 3 * 6 + 4.
    y = x.clone()
    y[:, 64:80, 48:64] += 1.0
    with torch.no_grad():
        diff = (enc.patch_embed(y) - enc.patch_embed(x)).abs().amax(dim=(0, 2))
    assert diff.nonzero().flatten().tolist() == [3 * 6 + 4]
    assert enc.patch_time_span(4) == (64, 80)
    assert [t.tolist() for t in enc.patch_time_span(torch.tensor([0, 2]))] == [[0, 32], [16, 48]]


def test_frame_tokens_span_all_bins():
    enc = small(patch="frame", prefix_tokens=1)
    assert enc.patch_shape == (128, 2) and enc.grid(50) == (1, 25)
    x = torch.randn(1, 50, 128)
    y = x.clone()
    y[:, 10:12, 0] += 1.0  # frames 10-11, lowest bin: frame token 5 only
    with torch.no_grad():
        diff = (enc.patch_embed(y) - enc.patch_embed(x)).abs().amax(dim=(0, 2))
    assert diff.nonzero().flatten().tolist() == [5]
    assert enc(x).shape == (1, 1 + 25, 64)


@pytest.mark.parametrize("fields", [{}, {"tstride": 16, "fstride": 16}, {"patch": "frame", "prefix_tokens": 1}])
def test_padding_does_not_change_real_tokens(fields):
    enc = small(**fields)
    short, long = torch.randn(1, 100, 128), torch.randn(1, 200, 128)
    batch = torch.cat([torch.cat([short, 5 * torch.randn(1, 100, 128)], dim=1), long])  # garbage padding
    padding_mask = torch.ones(2, 200, dtype=torch.bool)
    padding_mask[0, 100:] = False
    with torch.no_grad():
        alone = enc(short)[0]
        padded = enc(batch, padding_mask)[0]
        real = enc.token_mask(padding_mask)[0]
    assert int(real.sum()) == alone.shape[0]
    torch.testing.assert_close(padded[real], alone, atol=1e-5, rtol=0)


def test_token_mask_marks_patches_inside_real_frames():
    enc = small()  # 16x16 patches, time stride 10
    padding_mask = torch.zeros(2, 60, dtype=torch.bool)
    padding_mask[0, :60] = True
    padding_mask[1, :35] = True  # patches start at 0, 10, 20, 30, 40: only 0 and 10 end by frame 35
    mask = enc.token_mask(padding_mask)
    fp, tp = enc.grid(60)
    assert (fp, tp) == (12, 5) and mask.shape == (2, 2 + 60)
    assert mask[0].all()
    per_t = mask[1, 2:].reshape(fp, tp)
    assert per_t[:, :2].all() and not per_t[:, 2:].any() and mask[1, :2].all()


def test_input_shorter_than_a_patch_and_longer_than_the_grid():
    enc = small(max_frames=64)
    with torch.no_grad():
        out = enc(torch.randn(2, 10, 128))  # padded to one (masked) patch per frequency row
        assert out.shape == (2, 2 + 12, 64) and torch.isfinite(out).all()
        long = enc(torch.randn(1, 200, 128))  # 20 time patches > 5 on the grid: interpolated positions
        assert long.shape == (1, 2 + 12 * 19, 64) and torch.isfinite(long).all()


def test_mask_embedding_replaces_masked_patches():
    enc = small(fstride=16, tstride=16)  # non-overlapping patches: each frame/bin in one patch
    x = torch.randn(1, 64, 128)
    fp, tp = enc.grid(64)
    mask = torch.zeros(1, fp * tp, dtype=torch.bool)
    mask[0, 1 * tp + 2] = True  # patch f=1, t=2: bins 16-31, frames 32-47
    y = x.clone()
    y[:, 32:48, 16:32] = torch.randn(16, 16)
    z = x.clone()
    z[:, 0:16, 0:16] += 1.0  # patch f=0, t=0 (not masked)
    with torch.no_grad():
        base = enc(x, mask=mask)
        torch.testing.assert_close(enc(y, mask=mask), base, atol=1e-6, rtol=0)
        assert (enc(z, mask=mask) - base).abs().max() > 1e-3
        assert (enc(x) - base).abs().max() > 1e-3
        # The masked token's input is mask_embed + its position (row 1, column 2 of the 8x16
        # positional grid): set them to cancel out.
        enc.mask_embed.copy_(-enc.pos_embed[:, 2 + 1 * enc.pos_grid[1] + 2])
        x0, _ = enc._embed(x, None, mask)
    assert x0[0, 2 + 1 * tp + 2].abs().max() < 1e-6


def test_attention_maps_shape_rows_and_padding():
    enc = small(attention_maps=True)
    x = torch.randn(2, 60, 128)
    padding_mask = torch.ones(2, 60, dtype=torch.bool)
    padding_mask[1, 35:] = False
    with torch.no_grad():
        plain = enc(x, padding_mask)
        out, maps = enc(x, padding_mask, return_attention=True)
    n = 2 + 12 * 5
    assert len(maps) == 2 and all(m.shape == (2, 4, n, n) for m in maps)
    assert enc.last_attention_maps is not None and len(enc.last_attention_maps) == 2
    torch.testing.assert_close(out, plain, atol=1e-5, rtol=0)
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(2, 4, n), atol=1e-5, rtol=0)
        real = enc.token_mask(padding_mask)
        assert m[1][:, :, ~real[1]].abs().max() == 0


def test_attention_implementations_agree():
    enc = small()
    x = torch.randn(2, 80, 128)
    padding_mask = torch.ones(2, 80, dtype=torch.bool)
    padding_mask[0, 50:] = False
    with torch.no_grad():
        enc.attention_impl = "sdpa"
        a = enc(x, padding_mask)
        enc.attention_impl = "eager"
        b = enc(x, padding_mask)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_gradients_reach_every_parameter():
    enc = small()
    enc.train()
    mask = torch.zeros(2, 12 * 5, dtype=torch.bool)
    mask[:, ::3] = True
    enc(torch.randn(2, 60, 128), mask=mask).pow(2).mean().backward()
    no_grad = [n for n, p in enc.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


@pytest.mark.parametrize("fields,message", [
    ({"preset": "huge"}, "preset"),
    ({"dim": 64, "heads": 5}, "divisible"),
    ({"prefix_tokens": 3}, "prefix_tokens"),
    ({"patch": "square"}, "patch"),
    ({"attention": "flash"}, "attention"),
    ({"tstride": 0}, "stride"),
])
def test_bad_config_is_a_config_error(fields, message):
    with pytest.raises(ConfigError, match=message):
        ASTEncoder(ASTEncoder.Config(**fields), num_bins=128)


def test_wrong_input_shapes_are_rejected():
    enc = small()
    with pytest.raises(ValueError, match=r"\(B, T, 128\)"):
        enc(torch.randn(1, 50, 64))
    with pytest.raises(ValueError, match="padding_mask"):
        enc(torch.randn(1, 50, 128), torch.ones(1, 40, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        enc(torch.randn(1, 50, 128), mask=torch.zeros(1, 7, dtype=torch.bool))
