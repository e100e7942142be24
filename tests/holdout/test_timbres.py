"""Held-out timbre means disjoint samples (finding 2 of the evaluation issue): the SoundFont
parser finds which samples a preset plays, stamps record them, and evaluations compare them."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from pianox.holdout import timbre_overlap, timbre_report
from pianox_synth.render import default_soundfont
from pianox_synth.soundfont import DRUM_BANK, preset_samples, timbre_record
from pianox_synth.sources import MaestroTwin


def _chunk(cid: bytes, body: bytes, pad: bool = True) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if pad and len(body) % 2 else b"")


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def write_sf2(path, presets: dict[tuple[int, int], list[int]], samples: list[bytes], pad: bool = True) -> None:
    """A minimal SoundFont: each preset (bank, program) -> one instrument playing `samples[i]`
    for the listed i (one zone per sample). `pad=False` leaves an odd INFO chunk unpadded, as
    MuseScore General's writer does."""
    smpl = b"".join(samples)
    shdr, offset = b"", 0
    for i, s in enumerate(samples):
        words = len(s) // 2
        shdr += struct.pack("<20sIIIIIBbHH", f"s{i}".encode(), offset, offset + words, offset, offset + words,
                            16000, 60, 0, 0, 1)
        offset += words
    shdr += struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    phdr = pbag = pgen = inst = ibag = igen = b""
    pbag_n = pgen_n = ibag_n = igen_n = 0
    for k, ((bank, program), used) in enumerate(presets.items()):
        phdr += struct.pack("<20sHHHIII", f"p{k}".encode(), program, bank, pbag_n, 0, 0, 0)
        pbag += struct.pack("<HH", pgen_n, 0)
        pgen += struct.pack("<HH", 41, k)  # instrument k
        pbag_n, pgen_n = pbag_n + 1, pgen_n + 1
        inst += struct.pack("<20sH", f"i{k}".encode(), ibag_n)
        for sid in used:
            ibag += struct.pack("<HH", igen_n, 0)
            igen += struct.pack("<HH", 53, sid)  # sampleID
            ibag_n, igen_n = ibag_n + 1, igen_n + 1
    phdr += struct.pack("<20sHHHIII", b"EOP", 0, 0, pbag_n, 0, 0, 0)
    pbag += struct.pack("<HH", pgen_n, 0)
    pgen += struct.pack("<HH", 0, 0)
    inst += struct.pack("<20sH", b"EOI", ibag_n)
    ibag += struct.pack("<HH", igen_n, 0)
    igen += struct.pack("<HH", 0, 0)
    # an odd-sized INFO list: padded to an even offset as RIFF says, or not (pad=False)
    info = _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1)) + _chunk(b"INAM", b"tiny\0", pad=pad),
                  pad=pad)
    pdta = _list(b"pdta", *(_chunk(c, b) for c, b in ((b"phdr", phdr), (b"pbag", pbag), (b"pmod", b"\0" * 10),
                                                        (b"pgen", pgen), (b"inst", inst), (b"ibag", ibag),
                                                        (b"imod", b"\0" * 10), (b"igen", igen), (b"shdr", shdr))))
    body = b"sfbk" + info + _list(b"sdta", _chunk(b"smpl", smpl)) + pdta
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _pcm(seed: int, n: int = 64) -> bytes:
    return np.random.default_rng(seed).integers(-2000, 2000, n).astype("<i2").tobytes()


@pytest.mark.parametrize("pad", [True, False], ids=["padded", "unpadded-odd-chunk"])
def test_parser_finds_each_presets_samples(tmp_path, pad):
    samples = [_pcm(i) for i in range(5)]
    write_sf2(tmp_path / "a.sf2", {(0, 0): [0, 1, 2], (0, 1): [2, 3], (DRUM_BANK, 0): [4]}, samples, pad=pad)
    name, piano = preset_samples(tmp_path / "a.sf2", 0, 0)
    _, other = preset_samples(tmp_path / "a.sf2", 0, 1)
    _, kit = preset_samples(tmp_path / "a.sf2", DRUM_BANK, 0)
    assert name == "p0" and len(piano) == 3 and len(other) == 2 and len(kit) == 1
    assert len({s.digest for s in piano} & {s.digest for s in other}) == 1  # sample 2 is shared


def test_overlap_follows_the_sample_data_not_the_file_or_preset(tmp_path):
    write_sf2(tmp_path / "a.sf2", {(0, 0): [0, 1]}, [_pcm(1), _pcm(2)])
    write_sf2(tmp_path / "b.sf2", {(0, 5): [0]}, [_pcm(2)])  # a copy of a.sf2's second sample
    write_sf2(tmp_path / "c.sf2", {(0, 0): [0]}, [_pcm(3)])
    a, b, c = (timbre_record(tmp_path / f, 0, p) for f, p in (("a.sf2", 0), ("b.sf2", 5), ("c.sf2", 0)))
    assert timbre_overlap([b], [a]) == {**timbre_overlap([b], [a]), "disjoint": False, "shared_samples": 1}
    assert timbre_overlap([c], [a])["disjoint"] and timbre_overlap([c], [a, b])["shared_samples"] == 0


def test_timgm6mb_has_no_held_out_piano_or_kit():
    sf = default_soundfont()
    pianos = [timbre_record(sf, 0, p) for p in range(4)]
    for other in pianos[1:]:
        assert not timbre_overlap([other], [pianos[0]])["disjoint"]
    standard = timbre_record(sf, DRUM_BANK, 0)
    power = timbre_record(sf, DRUM_BANK, 16)
    assert timbre_overlap([power], [standard])["shared_samples"] == 46  # of Power's 48


def test_twin_stamps_record_timbres_and_reports_compare_them():
    base = MaestroTwin(MaestroTwin.Config(minutes=0.1, segment_seconds=2.0))
    other = MaestroTwin(MaestroTwin.Config(minutes=0.1, segment_seconds=2.0, program=1))
    assert base.timbres("test")[0]["program"] == 0 and len(base.timbres("test")[0]["samples"]) == 9
    same = timbre_report(base, base, "test")
    moved = timbre_report(base, other, "test")
    assert not same["disjoint"] and not moved["disjoint"] and moved["shared_samples"] == 9
