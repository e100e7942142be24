"""Drum MIDI (GM pitches, channel 10), Clone Hero charts (read back), hits CSV, tempo maps."""

from __future__ import annotations

import csv

import mido
import numpy as np
import pretty_midi
import pytest

from pianox.errors import ConfigError, DataError, OutputError
from pianox_drums.chart import chart_notes, read_chart, render_chart
from pianox_drums.classes import drum_classes
from pianox_drums.outputs import write_outputs
from pianox_drums.tempo import TempoMap, beat_phase, estimate_tempo, grid_beats

CLASSES = drum_classes("8-hit")  # kick snare toms hihat ride ride_bell crash clave
HITS = np.array([  # time s, class, velocity, confidence
    [0.50, 0, 100, 0.9], [0.50, 3, 70, 0.8], [0.75, 3, 60, 0.7], [1.00, 1, 110, 0.95],
    [1.00, 3, 65, 0.6], [1.25, 2, 90, 0.5], [1.50, 6, 120, 0.9], [1.50, 0, 105, 0.9],
    [1.75, 4, 80, 0.7], [1.751, 5, 85, 0.4], [2.00, 7, 50, 0.6],
])


def test_midi_uses_gm_pitches_on_channel_10(tmp_path):
    paths = write_outputs(HITS, CLASSES, tmp_path, "song", ["midi"], TempoMap.constant(120.0))
    mf = mido.MidiFile(str(paths["midi"]))
    ons = [m for track in mf.tracks for m in track if m.type == "note_on" and m.velocity > 0]
    assert {m.channel for m in ons} == {9}
    assert sorted(m.note for m in ons) == sorted([36, 42, 42, 38, 42, 48, 49, 36, 51, 53, 75])
    pm = pretty_midi.PrettyMIDI(str(paths["midi"]))  # read back by an independent parser
    assert len(pm.instruments) == 1 and pm.instruments[0].is_drum
    notes = sorted(pm.instruments[0].notes, key=lambda n: (n.start, n.pitch))
    expected = sorted((float(t), CLASSES.pitches[int(c)], int(np.clip(round(v), 1, 127))) for t, c, v in HITS[:, :3])
    np.testing.assert_allclose([n.start for n in notes], [e[0] for e in expected], atol=2e-3)
    np.testing.assert_allclose([n.end - n.start for n in notes], 0.1, atol=2e-3)
    assert sorted((n.pitch, n.velocity) for n in notes) == sorted((e[1], e[2]) for e in expected)
    assert [n.velocity for n in notes][:2] == [100, 70]


def test_chart_structure_lanes_cymbals_and_times_read_back(tmp_path):
    tempo = TempoMap.from_beats(np.arange(0.5, 3.0, 0.5))  # 120 bpm, first beat at 0.5 s
    paths = write_outputs(HITS, CLASSES, tmp_path, "song", ["chart"], tempo, music_stream="song.ogg")
    text = paths["chart"].read_text()
    chart = read_chart(text, str(paths["chart"]))
    assert chart["resolution"] == 192 and chart["song"]["MusicStream"] == '"song.ogg"'
    assert "0 = TS 4" in text and "0 = B 120000" in text
    notes = chart["notes"]
    times = chart["tempo"].to_seconds(np.array([t for t, _ in notes]))
    by_time: dict[float, set[int]] = {}
    for (_, note), t in zip(notes, times, strict=True):
        by_time.setdefault(round(float(t), 2), set()).add(note)
    assert by_time[0.5] == {0, 2, 66}  # kick + hi-hat (yellow cymbal)
    assert by_time[1.0] == {1, 2, 66}  # snare + hi-hat
    assert by_time[1.25] == {3}  # toms: blue tom, no cymbal flag
    assert by_time[1.5] == {0, 4, 68}  # kick + crash (green cymbal)
    assert by_time[1.75] == {3, 67}  # ride and ride bell 1 ms apart: one blue cymbal
    assert by_time[2.0] == {2}  # clave: yellow pad
    lane_ticks = [t for t, n in notes if n < 5]
    np.testing.assert_allclose(chart["tempo"].to_seconds(np.array(lane_ticks)),
                               [0.5, 0.5, 0.75, 1.0, 1.0, 1.25, 1.5, 1.5, 1.75, 2.0], atol=0.5 / 192)


def test_tom_and_cymbal_on_one_lane_and_tick_keep_the_more_confident():
    tempo = TempoMap.constant(120.0)
    hits = np.array([[1.0, 2, 90, 0.9], [1.0, 4, 90, 0.5]])  # toms (blue tom) vs ride (blue cymbal)
    assert chart_notes(hits, CLASSES, tempo) == [(384, 3)]
    hits[1, 3] = 0.95
    assert chart_notes(hits, CLASSES, tempo) == [(384, 3), (384, 67)]


def test_three_hit_classes_map_to_kick_yellow_cymbal_and_red():
    classes = drum_classes("3-hit")
    notes = chart_notes(np.array([[0.0, 0, 1, 1], [0.5, 1, 1, 1], [1.0, 2, 1, 1]]), classes, TempoMap.constant(60.0))
    assert notes == [(0, 0), (96, 2), (96, 66), (192, 1)]
    assert classes.pitches == (36, 42, 38)


def test_csv_and_refusing_to_overwrite(tmp_path):
    tempo = TempoMap.constant(100.0)
    paths = write_outputs(HITS, CLASSES, tmp_path, "s", ["csv", "midi"], tempo)
    rows = list(csv.DictReader(paths["csv"].open()))
    assert len(rows) == len(HITS) and rows[0] == {"time_s": "0.5000", "class": "0", "class_name": "kick",
                                                  "midi_pitch": "36", "velocity": "100", "confidence": "0.9000"}
    before = paths["midi"].read_bytes()
    with pytest.raises(OutputError, match=r"s\.mid.*; pass --overwrite"):
        write_outputs(HITS[:2], CLASSES, tmp_path, "s", ["midi", "csv"], tempo)
    assert paths["midi"].read_bytes() == before  # nothing written when one target exists
    write_outputs(HITS[:2], CLASSES, tmp_path, "s", ["csv", "midi"], tempo, overwrite=True)
    assert len(list(csv.DictReader(paths["csv"].open()))) == 2
    with pytest.raises(ConfigError, match="unknown output format"):
        write_outputs(HITS, CLASSES, tmp_path, "t", ["mp3"], tempo)


def test_tempo_map_round_trips_and_merges_equal_markers():
    tm = TempoMap.from_beats([0.5, 1.0, 1.5, 2.1, 2.7])
    assert tm.ticks == (0, 3 * 192) and tm.millibpm == (120000, 100000)
    t = np.array([0.0, 0.3, 1.49, 2.0, 5.0])
    np.testing.assert_allclose(tm.to_seconds(tm.to_ticks(t)), t, atol=1e-9)
    assert tm.to_ticks(np.array([1.5, 2.1]))[1] - tm.to_ticks(np.array([1.5]))[0] == pytest.approx(192)
    with pytest.raises(ValueError):
        TempoMap((5,), (120000,))
    early = TempoMap.from_beats([0.05, 0.55, 1.05, 1.55])  # no 1200 bpm pickup from 0 to 0.05 s
    assert early.millibpm == (109091, 120000) and early.ticks == (0, 192)


@pytest.mark.parametrize("bpm", [72.0, 97.0, 120.0, 150.0, 185.0])
def test_tempo_estimate_from_hits(bpm):
    rng = np.random.default_rng(int(bpm))
    beats = 0.37 + np.arange(0, 32) * 60.0 / bpm
    times = np.concatenate([beats, beats + 30.0 / bpm])  # eighth notes, accented on the beat
    velocity = np.concatenate([np.full(32, 110.0), np.full(32, 60.0)])
    times = times + rng.normal(0, 0.005, len(times))
    assert estimate_tempo(times, velocity) == pytest.approx(bpm, rel=0.02)
    assert beat_phase(times, bpm, velocity) == pytest.approx(0.37 % (60.0 / bpm), abs=0.01)
    grid = grid_beats(times, bpm, 10.0, velocity)
    assert np.diff(grid) == pytest.approx(np.full(len(grid) - 1, 60.0 / bpm))
    assert np.min(np.abs(grid[:, None] - beats[None, :3]), axis=0) == pytest.approx(np.zeros(3), abs=0.01)


def test_malformed_charts_name_the_file():
    with pytest.raises(DataError, match="x.chart: section \\[Song\\] is not closed"):
        read_chart("[Song]\n{\n  Resolution = 192\n", "x.chart")
    with pytest.raises(DataError, match="no \\[ExpertDrums\\] section"):
        read_chart(render_chart(HITS, CLASSES, TempoMap.constant(120.0)).replace("ExpertDrums", "Other"), "y")
