"""melspectrogram / log_melspectrogram / power_to_db against librosa over its options."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from pianox.features import log_melspectrogram, melspectrogram, power_to_db, reference
from pianox.features.mel import _mel_spec

from .signals import chord

LIBROSA_DEFAULTS = dict(sr=22050, n_fft=2048, hop_length=512, win_length=None, window="hann", center=True,
                        pad_mode="constant", power=2.0, n_mels=128, fmin=0.0, fmax=None, htk=False, norm="slaney")

CONFIGS = [
    {},
    {"sr": 16000, "n_fft": 512, "hop_length": 160, "win_length": 400},
    {"sr": 16000, "n_fft": 1024, "hop_length": 256, "window": "hamming", "pad_mode": "reflect", "n_mels": 80},
    {"sr": 16000, "n_fft": 1000, "hop_length": 250, "window": "blackman", "pad_mode": "edge", "htk": True},
    {"sr": 16000, "n_fft": 1024, "hop_length": 300, "win_length": 701, "pad_mode": "symmetric", "norm": None},
    {"sr": 16000, "n_fft": 777, "hop_length": 100, "window": "boxcar", "n_mels": 40, "norm": 2.0},
    {"sr": 22050, "n_fft": 2048, "hop_length": 441, "center": False, "power": 1.0, "norm": np.inf},
    {"sr": 16000, "n_fft": 512, "hop_length": 128, "power": 1.5, "fmin": 30.0, "fmax": 7000.0, "n_mels": 64},
    {"sr": 44100, "n_fft": 4096, "hop_length": 1024, "n_mels": 229, "fmin": 30.0, "htk": True, "norm": 1},
    {"sr": 16000, "n_fft": 512, "hop_length": None},
]


def close_to_librosa(ours: np.ndarray, expected: np.ndarray, rtol: float = 1e-4) -> None:
    """Each value within rtol of librosa, relative to the spectrogram's peak (float32 FFT noise)."""
    assert ours.shape == expected.shape
    scale = np.abs(expected).max()
    assert np.abs(ours - expected).max() <= rtol * scale, np.abs(ours - expected).max() / scale


@pytest.mark.filterwarnings("ignore:Empty filters")
@pytest.mark.parametrize("options", CONFIGS)
def test_melspectrogram_matches_librosa(options):
    args = {**LIBROSA_DEFAULTS, **options}
    y = chord(1.0, sample_rate=args["sr"], seed=len(options))
    expected = librosa.feature.melspectrogram(y=y, **args)
    close_to_librosa(melspectrogram(y, **args), expected)
    hop = args["hop_length"] or (args["win_length"] or args["n_fft"]) // 4
    spec = _mel_spec(args["sr"], args["n_fft"], hop, args["win_length"], args["window"], args["center"],
                     args["pad_mode"], args["power"], args["n_mels"], args["fmin"], args["fmax"], args["htk"],
                     args["norm"])
    ref = reference.frontend(spec, torch.from_numpy(y)[None])[0].T.numpy()
    close_to_librosa(ref, expected)


@pytest.mark.parametrize("ref_value", [1.0, 0.05, np.max])
@pytest.mark.parametrize("top_db", [80.0, 40.0, None])
def test_log_melspectrogram_matches_power_to_db(ref_value, top_db):
    y = chord(1.0, sample_rate=16000, seed=3)
    kw = dict(sr=16000, n_fft=1024, hop_length=160)
    expected = librosa.power_to_db(librosa.feature.melspectrogram(y=y, **kw), ref=ref_value, top_db=top_db)
    ours = log_melspectrogram(y, ref=ref_value, top_db=top_db, **kw)
    assert np.abs(ours - expected).max() < 2e-3


def test_batches_and_leading_axes():
    y = chord(0.7, sample_rate=16000, seed=4, batch=4)
    kw = dict(sr=16000, n_fft=512, hop_length=160)
    batch = melspectrogram(y, **kw)
    assert batch.shape == (4, 128, 1 + y.shape[1] // 160)
    for i in range(4):
        np.testing.assert_array_equal(batch[i], melspectrogram(y[i], **kw))
    np.testing.assert_array_equal(melspectrogram(y.reshape(2, 2, -1), **kw), batch.reshape(2, 2, 128, -1))
    # top_db floors each waveform against its own peak, as librosa does one waveform at a time
    quiet = np.stack([y[0], 1e-3 * y[1]])
    logs = log_melspectrogram(quiet, **kw)
    for i in range(2):
        expected = librosa.power_to_db(librosa.feature.melspectrogram(y=quiet[i], **kw))
        assert np.abs(logs[i] - expected).max() < 2e-3
    out = melspectrogram(torch.from_numpy(y), **kw)
    assert isinstance(out, torch.Tensor) and out.shape == batch.shape
    np.testing.assert_array_equal(out.numpy(), batch)


def test_power_to_db_matches_librosa():
    rng = np.random.default_rng(5)
    s = rng.gamma(0.5, size=(3, 40, 50)).astype(np.float32) * 10.0 ** rng.uniform(-12, 2, size=(3, 40, 50))
    for kw in [{}, {"ref": np.max}, {"ref": 3.0, "amin": 1e-5, "top_db": None}, {"top_db": 20.0}]:
        expected = librosa.power_to_db(s, **kw)
        np.testing.assert_allclose(power_to_db(s, **kw), expected, atol=1e-4)
        ours = power_to_db(torch.from_numpy(s), **{k: (torch.max if v is np.max else v) for k, v in kw.items()})
        np.testing.assert_allclose(ours.numpy(), expected, atol=1e-3)


def test_uncentred_requires_a_full_frame():
    with pytest.raises(ValueError, match="too large"):
        melspectrogram(np.zeros(1000, np.float32), center=False)


@pytest.mark.parametrize("bad", [{"window": "kaiser"}, {"win_length": 4096}, {"norm": "l2"}, {"pad_mode": "wrap"},
                                 {"fmin": 9000.0, "fmax": 8000.0}, {"power": 0.0}, {"n_mels": 0}])
def test_bad_options_raise_value_error(bad):
    with pytest.raises(ValueError):
        melspectrogram(chord(0.3), sr=16000, **bad)
