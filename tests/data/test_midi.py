"""pianox.midi: notes, sustain extension, pedal, drum hits, atomic writes, corrupt files."""

from __future__ import annotations

import struct

import mido
import numpy as np
import pytest

from pianox.errors import MidiError
from pianox.midi import (apply_sustain, load_midi, merge_intervals, notes_to_midi, read_drum_hits,
                         read_notes, read_pedal, write_midi)
from pianox.sources.drum_maps import canonical_pitches, class_names, pitch_to_class

NOTES = np.array([
    [0.10, 0.30, 60, 80],   # released before the pedal goes down: unchanged
    [0.50, 0.60, 64, 70],   # released under the pedal: held to 1.20
    [0.55, 1.50, 67, 60],   # key held past the pedal release: unchanged
    [0.70, 0.80, 72, 90],   # released under the pedal, re-struck at 1.00: ends at 1.00
    [1.00, 1.10, 72, 50],   # released under the pedal: held to 1.20
    [1.30, 1.40, 48, 40],   # after the pedal: unchanged
])
PEDAL = np.array([[0.40, 1.20]])


def test_sustain_extension_follows_onsets_and_frames():
    out = apply_sustain(NOTES, PEDAL)
    np.testing.assert_allclose(out[:, 1], [0.30, 1.20, 1.50, 1.00, 1.20, 1.40])
    np.testing.assert_array_equal(out[:, [0, 2, 3]], NOTES[:, [0, 2, 3]])


def test_read_notes_and_pedal_round_trip(tmp_path):
    path = write_midi(tmp_path / "p.midi", notes_to_midi(NOTES, PEDAL))
    raw = read_notes(path)
    np.testing.assert_allclose(raw, NOTES, atol=1.1e-3)  # 480 ticks/beat at 120 bpm ~ 1 ms
    held = read_notes(path, sustain=True)
    np.testing.assert_allclose(held[:, 1], [0.30, 1.20, 1.50, 1.00, 1.20, 1.40], atol=1.1e-3)
    np.testing.assert_allclose(read_pedal(path), PEDAL, atol=1.1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["p.midi"]


def test_pedal_threshold_and_open_pedal_is_closed_at_the_end(tmp_path):
    import pretty_midi

    pm = notes_to_midi(np.array([[0.0, 2.0, 60, 80]]))
    inst = pm.instruments[0]
    for t, v in [(0.2, 40), (0.5, 100), (0.9, 63), (1.2, 64)]:  # 40 < 64: not down
        inst.control_changes.append(pretty_midi.ControlChange(64, v, t))
    path = write_midi(tmp_path / "open.mid", pm)
    np.testing.assert_allclose(read_pedal(path), [[0.5, 0.9], [1.2, 2.0]], atol=1.1e-3)


def test_merge_intervals():
    iv = np.array([[3.0, 4.0], [0.0, 1.0], [0.5, 2.0], [2.0, 2.5]])
    np.testing.assert_array_equal(merge_intervals(iv), [[0.0, 2.5], [3.0, 4.0]])
    assert merge_intervals(np.zeros((0, 2))).shape == (0, 2)


def test_drum_hits_are_mapped_through_magentas_class_maps(tmp_path):
    hits = [(0.1, 36, 100), (0.1, 42, 70), (0.3, 40, 90), (0.5, 53, 60), (0.5, 56, 55),
            (0.7, 75, 50), (0.9, 81, 40)]  # 81 (open triangle) is in no map
    notes = np.array([(t, t + 0.05, p, v) for t, p, v in hits])
    path = write_midi(tmp_path / "d.midi", notes_to_midi(notes, is_drum=True))
    eight = read_drum_hits(path, pitch_to_class("8-hit"))
    np.testing.assert_allclose(eight[:, 0], [0.1, 0.1, 0.3, 0.5, 0.5, 0.7], atol=1.1e-3)
    assert eight[:, 1].tolist() == [0, 3, 1, 5, 5, 7]  # kick, hihat, snare, bell, bell, clave
    assert eight[:, 2].tolist() == [100, 70, 90, 60, 55, 50]
    three = read_drum_hits(path, pitch_to_class("3-hit"))
    assert three[:, 1].tolist() == [0, 1, 2, 1, 1, 2]
    assert class_names("8-hit") == ("kick", "snare", "toms", "hihat", "ride", "ride_bell",
                                    "crash", "clave")
    assert canonical_pitches("3-hit") == (36, 42, 38)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MidiError, match=r"not found: .*gone\.mid"):
        load_midi(tmp_path / "gone.mid")
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(MidiError, match=r"empty\.mid is empty"):
        load_midi(tmp_path / "empty.mid")


def test_corrupt_and_truncated_files(tmp_path):
    (tmp_path / "junk.mid").write_bytes(b"this is not a MIDI file at all" * 4)
    with pytest.raises(MidiError, match=r"cannot parse MIDI file .*junk\.mid"):
        load_midi(tmp_path / "junk.mid")
    good = write_midi(tmp_path / "good.mid", notes_to_midi(NOTES, PEDAL)).read_bytes()
    (tmp_path / "cut.mid").write_bytes(good[: len(good) - 20])
    with pytest.raises(MidiError, match=r"cut\.mid"):
        load_midi(tmp_path / "cut.mid")


def _header(division: int) -> bytes:
    track = b"\x00\x90\x3c\x40\x60\x80\x3c\x40\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, division)
            + b"MTrk" + struct.pack(">I", len(track)) + track)


@pytest.mark.parametrize("division", [0, 0xE728])  # zero, and SMPTE (negative) timing
def test_unusable_resolution(tmp_path, division):
    path = tmp_path / "res.mid"
    path.write_bytes(_header(division))
    with pytest.raises(MidiError, match=r"res\.mid (has an unusable resolution|cannot parse)"):
        load_midi(path)


def test_absurd_tick_counts_and_durations(tmp_path):
    mf = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=64, time=0),
                            mido.Message("note_off", note=60, velocity=0, time=50_000_000)])
    mf.tracks.append(track)
    mf.save(tmp_path / "ticks.mid")
    with pytest.raises(MidiError, match=r"ticks\.mid has an absurd length of 50000000 ticks"):
        load_midi(tmp_path / "ticks.mid")
    slow = mido.MidiFile(ticks_per_beat=1)
    slow.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=16_000_000, time=0),
        mido.Message("note_on", note=60, velocity=64, time=0),
        mido.Message("note_off", note=60, velocity=0, time=9_000_000)]))
    slow.save(tmp_path / "days.mid")
    with pytest.raises(MidiError, match=r"days\.mid lasts \d+ s \(> 86400 s\)"):
        load_midi(tmp_path / "days.mid")
