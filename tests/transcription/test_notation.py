"""Sheet music from notes: round trips of performed excerpts with known tempo, metre and key
through MusicXML and music21, the tempo-mapped MIDI, and the `pianox score` / `--format` CLI."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from pianox.cli import main
from pianox.errors import ConfigError, OutputError
from pianox.midi import notes_to_midi, write_midi
from pianox_synth.scores import MF, Score, Work
from pianox_transcription.notation.evaluate import parse_back, score_excerpt
from pianox_transcription.notation.groundtruth import perform_score
from pianox_transcription.notation.key import Key, estimate_key, spell
from pianox_transcription.notation.musicxml import musicxml_bytes
from pianox_transcription.notation.notate import notate
from pianox_transcription.notation.quantize import TPB, choose_grids
from pianox_transcription.notation.tempomap import midi_offset, tempo_midi
from pianox_transcription.outputs import output_paths, parse_formats, write_outputs


def _score(slug: str, qpm: float, bar: int, rh: list, lh: list) -> Score:
    """A two-hand Score from (onset ql, length ql, pitch) rows per hand (part 0 = right)."""
    rows = [(o, d, p, 0) for o, d, p in rh] + [(o, d, p, 1) for o, d, p in lh]
    a = np.array(sorted(rows), dtype=np.float64)
    end = float(np.ceil((a[:, 0] + a[:, 1]).max() / bar) * bar)
    return Score(work=Work(slug, "test", slug, f"test/{slug}", qpm), onset=a[:, 0], duration=a[:, 1],
                 pitch=a[:, 2].astype(np.int64), part=a[:, 3].astype(np.int64), dynamic=np.full(len(a), MF),
                 measure_starts=np.arange(0.0, end + bar, bar), minor=False)


def waltz() -> Score:
    """3/4 in D major at 96 quarter notes per minute: oom-pah-pah left hand, a tune above."""
    roots = [50, 45, 50, 43, 50, 45, 45, 50] * 2          # I V I IV I V V I
    thirds = {50: (54, 57), 45: (49, 52), 43: (47, 50)}
    tunes = [[(0, 1, 74), (1, .5, 76), (1.5, .5, 78), (2, 1, 74)], [(0, 2, 73), (2, 1, 69)],
             [(0, 1, 78), (1, .5, 76), (1.5, .5, 74), (2, 1, 78)], [(0, 2, 79), (2, 1, 76)],
             [(0, 1, 74), (1, .5, 78), (1.5, .5, 81), (2, 1, 78)], [(0, 2, 76), (2, 1, 73)],
             [(0, 1, 71), (1, 1, 73), (2, 1, 76)], [(0, 3, 74)]] * 2
    rh, lh = [], []
    for b, (root, tune) in enumerate(zip(roots, tunes)):
        lh.append((3 * b, 1, root))
        lh += [(3 * b + beat, 1, p) for beat in (1, 2) for p in thirds[root]]
        rh += [(3 * b + o, d, p) for o, d, p in tune]
    return _score("waltz", 96, 3, rh, lh)


def march() -> Score:
    """4/4 in B-flat major at 80 quarter notes per minute, with eighths, sixteenths and
    triplets in the right hand over a bass-chord left hand."""
    roots = [46, 41, 46, 51, 46, 41, 41, 46] * 2           # I V I IV I V V I
    chords = {46: (53, 58), 41: (57, 60), 51: (55, 58)}
    bars = [[(0, 2, 70), (2, 1, 74), (3, .5, 72), (3.5, .5, 70)],
            [(0, 1, 69), (1, 1 / 3, 72), (4 / 3, 1 / 3, 74), (5 / 3, 1 / 3, 72), (2, 2, 69)],
            [(0, 1, 70), (1, .5, 74), (1.5, .5, 77), (2, 2, 74)],
            [(0, .5, 75), (.5, .25, 74), (.75, .25, 72), (1, 1, 70), (2, 2, 67)],
            [(0, 2, 77), (2, 1, 74), (3, 1, 70)],
            [(0, 1, 72), (1, 1 / 3, 69), (4 / 3, 1 / 3, 72), (5 / 3, 1 / 3, 77), (2, 2, 76)],
            [(0, 1, 72), (1, .5, 74), (1.5, .5, 76), (2, 2, 77)],
            [(0, 4, 70)]] * 2
    rh, lh = [], []
    for b, (root, bar) in enumerate(zip(roots, bars)):
        lh += [(4 * b + beat, 1, root + 7 * (beat == 2)) for beat in (0, 2)]  # root, then fifth
        lh += [(4 * b + beat, 1, p) for beat in (1, 3) for p in chords[root]]
        rh += [(4 * b + o, d, p) for o, d, p in bar]
    return _score("march", 80, 4, rh, lh)


@pytest.mark.parametrize("make, signature, fifths", [(waltz, "3/4", 2), (march, "4/4", -2)])
def test_round_trip_from_performed_notes(make, signature, fifths):
    ex = perform_score(make(), seed=3, time_signature=signature, fifths=fifths, seconds=20.0)
    m, n, ours = score_excerpt(ex)
    assert m["onset"] >= 0.95 and m["level"] == 1.0
    assert m["hand"] >= 0.9
    assert m["pitch_recall"] == 1.0 and m["pitch_precision"] == 1.0
    assert m["duration"] >= 0.85
    assert n.metre.time_signature == signature and m["downbeat"] == 1.0
    assert n.key.fifths == fifths
    assert m["tempo_error"] < 0.05
    assert set(ours[:, 3]) == {0.0, 1.0}


def test_musicxml_parses_with_music21_and_carries_the_notation():
    from music21 import converter

    ex = perform_score(waltz(), seed=1, time_signature="3/4", fifths=2, seconds=12.0)
    n = notate(ex.notes)
    score = converter.parseData(musicxml_bytes(n, "waltz").decode("utf-8"), format="musicxml")
    assert len(score.parts) == 2
    upper, lower = score.parts
    assert upper.flatten().getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    assert upper.flatten().getElementsByClass("KeySignature")[0].sharps == 2
    assert upper.flatten().getElementsByClass("Clef")[0].sign == "G"
    assert lower.flatten().getElementsByClass("Clef")[0].sign == "F"
    mark = upper.flatten().getElementsByClass("MetronomeMark")[0]
    assert abs(mark.number - ex.qpm) / ex.qpm < 0.05
    for part in score.parts:  # every bar full: notes and rests of each voice add up to the bar
        for measure in part.getElementsByClass("Measure")[1:-1]:
            for voice in measure.voices:
                assert float(voice.duration.quarterLength) == pytest.approx(3.0)
    back = parse_back(musicxml_bytes(n))
    assert len(back) == len(ex.notes)
    assert {int(p) for p in back[:, 2]} == {int(p) for p in ex.notes[:, 2]}


def test_ties_cross_barlines_and_rests_fill_gaps():
    # one long note over a barline in a 4/4 context, then a gap; the metre is fixed by a pulse
    pulse = [(float(t), float(t) + 0.3, 40, 80) for t in np.arange(0, 8.0, 0.5)]
    notes = np.array(sorted(pulse + [(1.0, 3.45, 76, 90), (5.0, 5.2, 76, 90)]))
    n = notate(notes)
    data = musicxml_bytes(n).decode("utf-8")
    assert '<tie type="start"' in data and '<tie type="stop"' in data and "<rest" in data
    back = parse_back(musicxml_bytes(n))
    long = back[(back[:, 2] == 76)]
    assert long[0, 1] == pytest.approx(5.0)  # 2.5 s at 120 bpm = 5 beats, tied into one note


def test_pedal_extended_lengths_are_cut_at_the_next_note_of_the_line():
    # a stepwise line, each note ringing 1.5 s (three beats) under the pedal
    line = [60, 62, 64, 65, 67, 65, 64, 62] * 2
    notes = np.array([[0.5 * i, 0.5 * i + 1.5, p, 70] for i, p in enumerate(line)])
    n = notate(notes)
    lengths = (n.end - n.onset)[np.argsort(n.onset)][:-1]
    assert (lengths == lengths[0]).all() and lengths[0] <= TPB  # one beat (or less), not three


def test_grid_per_beat_tells_triplets_from_sixteenths():
    beats = np.arange(0.0, 5.0, 0.5)
    positions = np.array([0, 1 / 3, 2 / 3, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4])
    grids = choose_grids(positions + 0.004 * np.sin(np.arange(len(positions))), beats)
    assert list(grids[:3]) == [3, 4, 2]  # triplets, sixteenths, eighths


def test_key_estimate_and_spelling():
    scale = np.array([65, 67, 69, 70, 72, 74, 76, 77])  # F major
    weight = np.array([4, 1, 2, 1, 3, 1, 1, 4])
    key = estimate_key(scale, weight)
    assert key == Key(5, False) and key.fifths == -1 and key.name == "F"
    assert spell(10, -1) == ("B", -1) and spell(6, 2) == ("F", 1) and spell(8, 0) == ("G", 1)
    assert Key(9, True).fifths == 0 and Key(9, True).name == "a"


def test_tempo_midi_lines_up_with_beats_and_played_times(tmp_path):
    ex = perform_score(march(), seed=2, time_signature="4/4", fifths=-2, seconds=12.0)
    n = notate(ex.notes)
    path = tmp_path / "m.mid"
    tempo_midi(n, ex.pedal).save(str(path))
    pm = pretty_midi.PrettyMIDI(str(path))
    offset = midi_offset(n)
    starts = np.sort([x.start for x in pm.instruments[0].notes])
    assert np.abs(starts - np.maximum(0.0, np.sort(n.notes[:, 0]) - offset)).max() < 0.003
    beats = pm.get_beats()
    pad = (n.metre.beats_per_bar - n.metre.downbeat) % n.metre.beats_per_bar
    k = min(len(beats) - pad, len(n.beats))  # pretty_midi's beats stop at the last note's end
    assert k >= len(n.beats) - 2 and np.abs(beats[pad:pad + k] - (n.beats[:k] - offset)).max() < 0.003
    ts = pm.time_signature_changes[0]
    assert (ts.numerator, ts.denominator) == (4, 4)
    assert pretty_midi.key_number_to_key_name(pm.key_signature_changes[0].key_number) == "Bb Major"
    pedal = [c for c in pm.instruments[0].control_changes if c.number == 64]
    assert len(pedal) == 2 * len(ex.pedal)


def test_formats_and_refusal_to_overwrite(tmp_path):
    assert parse_formats("midi, musicxml,midi") == ("midi", "musicxml")
    with pytest.raises(ConfigError):
        parse_formats("midi,pdf")
    ex = perform_score(waltz(), seed=0, time_signature="3/4", fifths=2, seconds=8.0)
    paths = write_outputs(ex.notes, tmp_path, "take", ("midi", "csv", "musicxml"), ex.pedal)
    assert sorted(p.name for p in paths.values()) == ["take.csv", "take.mid", "take.musicxml"]
    assert pretty_midi.PrettyMIDI(str(paths["midi"])).get_tempo_changes()[0].size > 1  # a tempo map
    before = paths["musicxml"].read_bytes()
    with pytest.raises(OutputError, match="--overwrite"):
        write_outputs(ex.notes[:5], tmp_path, "take", ("musicxml",))
    assert paths["musicxml"].read_bytes() == before
    write_outputs(ex.notes[:5], tmp_path, "take", ("musicxml",), overwrite=True)
    assert paths["musicxml"].read_bytes() != before


def test_score_command(tmp_path, capsys):
    ex = perform_score(waltz(), seed=0, time_signature="3/4", fifths=2, seconds=8.0)
    src = tmp_path / "in" / "take.mid"
    src.parent.mkdir()
    write_midi(src, notes_to_midi(ex.notes, ex.pedal))
    out = tmp_path / "out"
    assert main(["score", str(src), "-o", str(out), "--format", "musicxml,midi"]) == 0
    xml = output_paths(out, "take", ("musicxml",))["musicxml"]
    assert xml.is_file() and len(parse_back(xml.read_bytes())) == len(ex.notes)
    assert main(["score", str(src), "-o", str(out)]) != 0  # exists: refused
    assert "--overwrite" in capsys.readouterr().err
    assert main(["score", str(src), "-o", str(out), "--overwrite"]) == 0
    # never over its own input, even with --overwrite
    assert main(["score", str(src), "-o", str(src.parent), "--format", "midi", "--overwrite"]) != 0
    assert "input" in capsys.readouterr().err
    assert main(["score", str(src), "-o", str(out), "--format", "pdf"]) != 0


def test_transcribe_rejects_an_unknown_format_before_loading_a_model(tmp_path, capsys):
    from pianox.audio import write_audio

    wav = tmp_path / "a.wav"
    write_audio(wav, np.zeros(1600, np.float32), 16000)
    code = main(["transcribe", str(wav), "--model", str(tmp_path / "no-such-run"), "-o", str(tmp_path / "o"),
                 "--format", "midi,score"])
    assert code != 0 and "--format" in capsys.readouterr().err


def test_audio_beats_agree_with_note_beats():
    from pianox_synth.render import render_midi

    from pianox_transcription.notation.beats import track_beats

    ex = perform_score(march(), seed=4, time_signature="4/4", fifths=-2, seconds=10.0)
    y = render_midi(notes_to_midi(ex.notes, ex.pedal), 16000)
    plain, heard = track_beats(ex.notes), track_beats(ex.notes, y, 16000)
    inner = plain[(plain > ex.notes[0, 0]) & (plain < ex.notes[-1, 0])]
    assert np.median(np.min(np.abs(inner[:, None] - heard[None, :]), axis=1)) < 0.03
