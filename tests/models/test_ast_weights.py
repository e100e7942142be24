"""Weights in and out: parity with Hugging Face's ASTModel both ways, official AST/SSAST .pth
files, positional-grid resizing, safe loading and checkpoint errors."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ast_builders import hf_hidden, official_ast_state, random_hf, ssast_pretrain_state, transformers
from pianox.errors import CheckpointError, ConfigError
from pianox.models.ast import ASTEncoder
from pianox.models.weights import config_json

PARITY = [(10, 10, 128), (16, 16, 128), (10, 16, 256), (16, 10, 192), (10, 10, 1024)]


def encode(enc: ASTEncoder, x: torch.Tensor, **kw) -> torch.Tensor:
    with torch.no_grad():
        return enc.eval()(x, **kw)


@pytest.mark.parametrize("fs,ts,length", PARITY)
def test_hf_to_pianox_parity(tmp_path, fs, ts, length):
    hf = random_hf(fs, ts, length)
    hf.save_pretrained(tmp_path / "hf")
    enc = ASTEncoder.from_pretrained(tmp_path / "hf")
    assert (enc.stride, enc.config.max_frames, enc.config.norm_eps) == ((fs, ts), length, 1e-12)
    x = torch.randn(2, length, 128)
    err = (encode(enc, x) - hf_hidden(hf, x)).abs().max().item()
    assert err < 1e-4, err


@pytest.mark.parametrize("fs,ts,length", PARITY[:3])
def test_pianox_to_hf_parity(tmp_path, fs, ts, length):
    torch.manual_seed(1)
    enc = ASTEncoder(ASTEncoder.Config(dim=64, depth=2, heads=4, fstride=fs, tstride=ts, max_frames=length,
                                       norm_eps=1e-12), num_bins=128)
    out = enc.save_pretrained(tmp_path / "px")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "pianox.safetensors"]
    hf = transformers.ASTModel.from_pretrained(out, attn_implementation="eager").eval()
    assert (hf.config.frequency_stride, hf.config.time_stride, hf.config.max_length) == (fs, ts, length)
    x = torch.randn(2, length, 128)
    err = (encode(enc, x) - hf_hidden(hf, x)).abs().max().item()
    assert err < 1e-4, err
    # ...and back: the pianox block restores the exact Config, the mask embedding comes along.
    again = ASTEncoder.from_pretrained(out)
    assert again.config == enc.config
    torch.testing.assert_close(again.mask_embed, enc.mask_embed, atol=0, rtol=0)


def test_audio_classification_directory_loads_its_encoder(tmp_path):
    hf = random_hf(classifier=True)
    hf.save_pretrained(tmp_path / "cls")
    keys = load_file(tmp_path / "cls" / "model.safetensors")
    assert any(k.startswith("audio_spectrogram_transformer.") for k in keys) and "classifier.dense.weight" in keys
    enc = ASTEncoder.from_pretrained(tmp_path / "cls")
    x = torch.randn(1, 128, 128)
    assert (encode(enc, x) - hf_hidden(hf, x)).abs().max() < 1e-4


def test_transformers5_in_memory_names_load(tmp_path):
    """Keys as transformers 5 names them in memory (q_proj/k_proj/v_proj, o_proj, mlp.fc1/fc2)."""
    hf = random_hf()
    hf.save_pretrained(tmp_path / "hf")
    save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, tmp_path / "hf" / "model.safetensors")
    assert any(".q_proj." in k for k in load_file(tmp_path / "hf" / "model.safetensors"))
    enc = ASTEncoder.from_pretrained(tmp_path / "hf")
    x = torch.randn(1, 128, 128)
    assert (encode(enc, x) - hf_hidden(hf, x)).abs().max() < 1e-4


@pytest.mark.parametrize("fs,ts,length", [(10, 10, 128), (16, 16, 192)])
def test_official_ast_pth(tmp_path, fs, ts, length):
    hf = random_hf(fs, ts, length, eps=1e-6)  # timm's DeiT LayerNorms use 1e-6
    torch.save(official_ast_state(hf), tmp_path / "audioset.pth")
    stride = None if (fs, ts) == (10, 10) else (fs, ts)
    enc = ASTEncoder.from_pretrained(tmp_path / "audioset.pth", source_stride=stride, max_frames=length)
    assert (enc.dim, enc.depth, enc.heads, enc.num_prefix_tokens) == (64, 2, 1, 2)  # heads = dim // 64
    # The head count is not in the file: ask for the real one, outputs must then match exactly.
    enc = ASTEncoder.from_pretrained(tmp_path / "audioset.pth", source_stride=stride, max_frames=length, heads=4)
    x = torch.randn(2, length, 128)
    err = (encode(enc, x) - hf_hidden(hf, x)).abs().max().item()
    assert err < 1e-4, err


def test_ssast_patch_pretraining_pth(tmp_path):
    hf = random_hf(16, 16, 256, eps=1e-6)
    mask_embed = torch.randn(1, 1, 64)
    torch.save(ssast_pretrain_state(official_ast_state(hf), 64, 128, 256, mask_embed), tmp_path / "ssast.pth")
    enc = ASTEncoder.from_pretrained(tmp_path / "ssast.pth", heads=4)
    assert (enc.stride, enc.config.max_frames) == ((16, 16), 256)
    torch.testing.assert_close(enc.mask_embed, mask_embed, atol=0, rtol=0)
    x = torch.randn(2, 256, 128)
    assert (encode(enc, x) - hf_hidden(hf, x)).abs().max() < 1e-4


def test_ssast_frame_pretraining_pth(tmp_path):
    torch.manual_seed(2)
    src = ASTEncoder(ASTEncoder.Config(dim=64, depth=2, heads=1, patch="frame", max_frames=100), num_bins=128)
    vit = {f"module.v.{k}": v for k, v in src.state_dict().items() if k != "mask_embed"}
    torch.save(ssast_pretrain_state(vit, 64, 128, 100, src.mask_embed.detach().clone()), tmp_path / "frame.pth")
    enc = ASTEncoder.from_pretrained(tmp_path / "frame.pth")
    assert (enc.config.patch, enc.patch_shape, enc.pos_grid) == ("frame", (128, 2), (1, 50))
    x = torch.randn(2, 100, 128)
    torch.testing.assert_close(encode(enc, x), encode(src, x), atol=1e-5, rtol=0)
    torch.testing.assert_close(enc.mask_embed, src.mask_embed, atol=0, rtol=0)


def test_frame_model_round_trips_through_pianox_directory(tmp_path):
    torch.manual_seed(3)
    enc = ASTEncoder(ASTEncoder.Config(dim=32, depth=1, heads=2, patch="frame", prefix_tokens=1,
                                       max_frames=64), num_bins=64)
    enc.save_pretrained(tmp_path / "frame")
    meta = json.loads((tmp_path / "frame" / "config.json").read_text())
    assert "model_type" not in meta  # Hugging Face's AST cannot express frame tokens
    again = ASTEncoder.from_pretrained(tmp_path / "frame")
    x = torch.randn(2, 64, 64)
    assert again.num_bins == 64 and again.config == enc.config
    torch.testing.assert_close(encode(again, x), encode(enc, x), atol=0, rtol=0)


def test_training_checkpoint_with_config_json_loads(tmp_path):
    """A training checkpoint: encoder under "model.*" (pianox names) and a task head under
    "head.*" in one model.safetensors, with config_json(encoder) written beside it."""
    torch.manual_seed(5)
    enc = ASTEncoder(ASTEncoder.Config(dim=32, depth=2, heads=2, fstride=16, tstride=16, max_frames=96), num_bins=128)
    ckpt = tmp_path / "checkpoints" / "best"
    ckpt.mkdir(parents=True)
    tensors = {f"model.{k}": v.contiguous() for k, v in enc.state_dict().items()}
    tensors |= {"head.proj.weight": torch.randn(19, 32), "head.proj.bias": torch.randn(19)}
    save_file(tensors, ckpt / "model.safetensors")
    (ckpt / "config.json").write_text(json.dumps(config_json(enc)))
    again = ASTEncoder.from_pretrained(ckpt)
    x = torch.randn(2, 96, 128)
    torch.testing.assert_close(encode(again, x), encode(enc, x), atol=0, rtol=0)
    torch.testing.assert_close(again.mask_embed, enc.mask_embed, atol=0, rtol=0)


def test_config_init_loads_weights(tmp_path):
    hf = random_hf()
    hf.save_pretrained(tmp_path / "hf")
    config = ASTEncoder.Config(dim=64, depth=2, heads=4, max_frames=128, norm_eps=1e-12, init=str(tmp_path / "hf"))
    enc = ASTEncoder(config, num_bins=128)
    x = torch.randn(1, 128, 128)
    assert (encode(enc, x) - hf_hidden(hf, x)).abs().max() < 1e-4


def test_positions_cropped_for_shorter_grid_interpolated_for_new_stride(tmp_path):
    hf = random_hf(10, 10, 256)
    hf.save_pretrained(tmp_path / "hf")
    full = ASTEncoder.from_pretrained(tmp_path / "hf")
    table = full.pos_embed[:, 2:].detach().reshape(1, 12, 25, 64)
    # Same stride, shorter grid: the first columns, so a 128-frame input encodes identically.
    short = ASTEncoder.from_pretrained(tmp_path / "hf", max_frames=128)
    assert short.pos_grid == (12, 12)
    torch.testing.assert_close(short.pos_embed[:, 2:].reshape(1, 12, 12, 64), table[:, :, :12], atol=0, rtol=0)
    x = torch.randn(1, 128, 128)
    torch.testing.assert_close(encode(short, x), encode(full, x), atol=1e-6, rtol=0)
    # New strides: bilinear on the grid (as official AST moves ImageNet positions to audio).
    wide = ASTEncoder.from_pretrained(tmp_path / "hf", fstride=16, tstride=16)
    assert wide.pos_grid == (8, 16)
    expected = F.interpolate(table.permute(0, 3, 1, 2), size=(8, 16), mode="bilinear", align_corners=False)
    torch.testing.assert_close(wide.pos_embed[:, 2:], expected.flatten(2).transpose(1, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(wide.cls_token, full.cls_token, atol=0, rtol=0)


def test_pickle_only_checkpoint_needs_opt_in(tmp_path):
    hf = random_hf(eps=1e-6)
    path = tmp_path / "trainer.pth"
    torch.save({"state_dict": official_ast_state(hf), "args": argparse.Namespace(lr=1e-4)}, path)
    with pytest.raises(CheckpointError, match=r"trainer\.pth.*allow_pickle=True"):
        ASTEncoder.from_pretrained(path)
    enc = ASTEncoder.from_pretrained(path, allow_pickle=True, max_frames=128, heads=4)
    x = torch.randn(1, 128, 128)
    assert (encode(enc, x) - hf_hidden(hf, x)).abs().max() < 1e-4


def test_wrong_shape_names_file_and_key(tmp_path):
    random_hf().save_pretrained(tmp_path / "hf")
    # A model built for another size: the first mismatching tensor is named.
    config = ASTEncoder.Config(dim=64, depth=2, heads=4, mlp_ratio=2.0, max_frames=128, init=str(tmp_path / "hf"))
    with pytest.raises(CheckpointError, match=r"hf.*encoder\.layer\.0\.intermediate\.dense\.weight.*\(256, 64\)"):
        ASTEncoder(config, num_bins=128)
    # A corrupted file: the positional table does not fit the geometry config.json states.
    weights = tmp_path / "hf" / "model.safetensors"
    state = load_file(weights)
    state["embeddings.position_embeddings"] = state["embeddings.position_embeddings"][:, :50].contiguous()
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"model\.safetensors|embeddings\.position_embeddings"):
        ASTEncoder.from_pretrained(tmp_path / "hf")


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        ASTEncoder.from_pretrained(tmp_path / "missing")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"other\.pth.*patch embedding"):
        ASTEncoder.from_pretrained(tmp_path / "other.pth")
    hf = random_hf()
    state = official_ast_state(hf)
    state["module.v.blocks.0.attn.rotary.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match=r"unexpected keys.*module\.v\.blocks\.0\.attn\.rotary\.weight"):
        ASTEncoder.from_pretrained(tmp_path / "odd.pth")
    torch.save(official_ast_state(hf), tmp_path / "ok.pth")
    with pytest.raises(CheckpointError, match="source_stride"):
        ASTEncoder.from_pretrained(tmp_path / "ok.pth", source_stride=(12, 12))  # 144 % 10 rows
    with pytest.raises(CheckpointError, match="prefix tokens"):
        ASTEncoder.from_pretrained(tmp_path / "ok.pth", prefix_tokens=1)
    with pytest.raises(ConfigError, match="bogus"):
        ASTEncoder.from_pretrained(tmp_path / "ok.pth", bogus=1)


def test_save_replaces_directory_atomically(tmp_path):
    torch.manual_seed(4)
    a = ASTEncoder(ASTEncoder.Config(dim=32, depth=1, heads=2, max_frames=64), num_bins=128)
    b = ASTEncoder(ASTEncoder.Config(dim=32, depth=1, heads=2, max_frames=64), num_bins=128)
    target = tmp_path / "ckpt"
    a.save_pretrained(target)
    (target / "stale.txt").write_text("from an older save")
    b.save_pretrained(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp or backup dirs left
    assert not (target / "stale.txt").exists()
    loaded = ASTEncoder.from_pretrained(target)
    torch.testing.assert_close(loaded.pos_embed, b.pos_embed, atol=0, rtol=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointError, match="not a directory"):
        a.save_pretrained(tmp_path / "file")
