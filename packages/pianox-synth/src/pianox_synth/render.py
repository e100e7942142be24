"""Offline SoundFont rendering of a PrettyMIDI to float32 mono audio with tinysoundfont.

Events are applied at their exact sample (the synthesizer is advanced to each event's sample
before the event is sent), so a note starting at t seconds sounds from sample round(t * sr).
TinySoundFont ignores the sustain pedal, so CC64 is honoured here the way a piano does it:
note-offs are deferred while the pedal is down (`pianox.midi.apply_sustain`). Drum
instruments play on MIDI channel 10 with the drum-kit preset number as their program
(General MIDI kits: 0 Standard, 8 Room, 16 Power, 24 Electronic, 25 TR-808, 32 Jazz, 40 Brush).
A piano can be detuned per key (`tuning_cents`): its notes are spread over 15 channels by
register, each tuned on its own. One synthesizer per SoundFont is kept per process and reset
before each render.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np

from pianox.errors import ConfigError, DataError
from pianox.holdout import refuse_reserved_soundfont
from pianox.midi import SUSTAIN_CC, apply_sustain, instrument_pedal

DRUM_CHANNEL = 9
SOUNDFONT_SUFFIXES = (".sf2", ".sf3", ".sfo")
# Event order within one sample: controllers first, then releases, then new notes (so a
# re-struck key is released before it is struck again).
_CONTROL, _NOTE_OFF, _NOTE_ON = 0, 1, 2


KNOWN_SOUNDFONTS: dict[str, tuple[tuple[str, ...], str]] = {
    "musescore": (("/usr/share/sounds/sf3/MuseScore_General.sf3",
                   "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
                  "musescore-general-soundfont-small"),
    "csound": (("/usr/share/sounds/sf2/sf_GMbank.sf2",), "csound-soundfont"),
    "fluidr3": (("/usr/share/sounds/sf2/FluidR3_GM.sf2",), "fluid-soundfont-gm"),
}
"""SoundFonts that `--soundfont NAME` finds by name: name -> (paths tried in order, the Debian
package that installs them). "timgm6mb" (pretty_midi's bundled file) needs no package.
"fluidr3" is reserved evaluation material (pianox.holdout): only an evaluation-only render
resolves it."""

_PACKAGE_OF_FILE = {Path(path).name.lower(): package
                    for paths, package in KNOWN_SOUNDFONTS.values() for path in paths}


def default_soundfont() -> Path:
    """pretty_midi's bundled General MIDI SoundFont (TimGM6mb.sf2)."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def resolve_soundfont(path: str | os.PathLike | None, *, reserved_ok: bool = False) -> Path:
    """`path` as an existing .sf2/.sf3/.sfo file, or the default SoundFont when empty; the
    names "timgm6mb", "musescore", "csound" and "fluidr3" (`KNOWN_SOUNDFONTS`) find the bundled
    or Debian file. A missing known file is a ConfigError naming the Debian package that
    installs it. The reserved evaluation SoundFonts (FluidR3, pianox.holdout), by name or path,
    raise ReservedError unless `reserved_ok` (an evaluation-only render)."""
    if path is None or str(path) == "" or str(path).lower() == "timgm6mb":
        return default_soundfont()
    name = str(path).lower()
    if name in KNOWN_SOUNDFONTS:
        paths, package = KNOWN_SOUNDFONTS[name]
        if not reserved_ok:
            for candidate in paths:
                refuse_reserved_soundfont(candidate)
        found = next((Path(c) for c in paths if Path(c).is_file()), None)
        if found is None:
            raise ConfigError(f"SoundFont {path!r} not found (looked for {', '.join(paths)}); "
                              f"install the Debian package: apt-get install {package}")
        return found
    p = Path(os.path.expanduser(str(path)))
    if not reserved_ok:
        refuse_reserved_soundfont(p)
    if not p.is_file():
        package = _PACKAGE_OF_FILE.get(p.name.lower())
        hint = f"; install the Debian package: apt-get install {package}" if package else ""
        raise ConfigError(f"SoundFont not found: {p}{hint}")
    if p.suffix.lower() not in SOUNDFONT_SUFFIXES:
        raise ConfigError(f"{p} is not a SoundFont (expected {', '.join(SOUNDFONT_SUFFIXES)})")
    return p


@functools.lru_cache(maxsize=4)
def _loaded_synth(path: str, sample_rate: int, gain_db: float):
    """A synthesizer with the SoundFont at `path` loaded, kept per process: loading an .sf3
    decodes all its Ogg samples (about 2 s for MuseScore General), rendering a minute of piano
    takes a tenth of that. `render_midi` silences and resets it before each use."""
    import tinysoundfont

    synth = tinysoundfont.Synth(gain=gain_db, samplerate=sample_rate)
    try:
        sfid = synth.sfload(Path(path).read_bytes())
    except Exception as exc:
        raise DataError(f"cannot load SoundFont {path}: {exc}") from exc
    return synth, sfid


TUNING_BANDS = 15
"""Pitched channels available for stretch tuning (16 MIDI channels less the drum channel)."""


def tuning_bands(cents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the 88 keys into `TUNING_BANDS` bands of adjacent keys, one MIDI channel each, so
    each band can be tuned on its own. Returns the band of each MIDI pitch `(128,)` and each
    band's tuning `(TUNING_BANDS,)` in cents: the mean of `cents` `(128,)` over its keys."""
    cents = np.asarray(cents, dtype=np.float64).reshape(128)
    band = np.clip((np.arange(128) - 21) * TUNING_BANDS // 88, 0, TUNING_BANDS - 1)
    tuning = np.array([cents[21:109][band[21:109] == b].mean() for b in range(TUNING_BANDS)])
    return band, tuning


def _events(pm, sr: int, band: np.ndarray | None = None
            ) -> tuple[list[tuple[int, int, int, tuple]], dict[int, tuple[int, bool]]]:
    """(sample, order, seq, action) events and channel -> (program, is_drum). With `band`
    (`tuning_bands`), the one pitched instrument's notes go to the channel of their band."""
    channels: dict[int, tuple[int, bool]] = {}
    if band is not None and sum(not i.is_drum for i in pm.instruments) > 1:
        raise DataError("tuned rendering plays one pitched instrument, this MIDI has several")
    by_program: dict[int, int] = {}
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    events: list[tuple[int, int, int, tuple]] = []
    end = pm.get_end_time()
    for inst in pm.instruments:
        if inst.is_drum:
            chan = DRUM_CHANNEL
            if chan in channels and channels[chan][0] != inst.program:
                warnings.warn(f"several drum kits in one MIDI; using kit {channels[chan][0]}",
                              stacklevel=3)
        elif inst.program in by_program:
            chan = by_program[inst.program]
        else:
            if not free:
                raise DataError("cannot render more than 15 pitched programs at once")
            chan = by_program[inst.program] = free.pop(0)
        channels.setdefault(chan, (inst.program, inst.is_drum))
        if band is not None and not inst.is_drum:
            channels.update({c: (inst.program, False) for c in free + [chan]})
        notes = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes],
                         dtype=np.float64).reshape(-1, 4)
        if not inst.is_drum:
            notes = apply_sustain(notes, instrument_pedal(inst, end))
        for on, off, pitch, vel in notes:
            a = int(round(on * sr))
            b = max(a + 1, int(round(off * sr)))
            c = chan if band is None or inst.is_drum else _band_channel(int(band[int(pitch)]))
            events.append((a, _NOTE_ON, len(events), ("on", c, int(pitch), int(vel))))
            events.append((b, _NOTE_OFF, len(events), ("off", c, int(pitch))))
        for cc in inst.control_changes:
            if cc.number != SUSTAIN_CC:
                events.append((int(round(cc.time * sr)), _CONTROL, len(events),
                               ("cc", chan, cc.number, cc.value)))
        for pb in inst.pitch_bends:
            events.append((int(round(pb.time * sr)), _CONTROL, len(events),
                           ("bend", chan, pb.pitch + 8192)))
    events.sort()
    return events, channels


def _band_channel(band: int) -> int:
    return band if band < DRUM_CHANNEL else band + 1


def render_midi(pm, sample_rate: int, soundfont: str | os.PathLike | None = None,
                gain_db: float = 0.0, tail_seconds: float = 1.0,
                tuning_cents: np.ndarray | None = None, *, reserved_ok: bool = False) -> np.ndarray:
    """Render a PrettyMIDI to float32 mono `(S,)` at `sample_rate` Hz.

    The output lasts until the last note release plus `tail_seconds` (decay). `gain_db` is the
    synthesizer's master gain. No normalisation is applied: loudness follows the velocities.
    `tuning_cents` `(128,)` detunes each MIDI pitch (one pitched instrument only), band-wise
    (`tuning_bands`): stretch tuning and detuning without touching any time. A reserved
    SoundFont is refused unless `reserved_ok` (`resolve_soundfont`).
    """
    sf_path = resolve_soundfont(soundfont, reserved_ok=reserved_ok)
    synth, sfid = _loaded_synth(str(sf_path), int(sample_rate), float(gain_db))
    band = None
    if tuning_cents is not None:
        band, tuning = tuning_bands(tuning_cents)
    events, channels = _events(pm, int(sample_rate), band)
    for chan in range(16):  # a reused synthesizer: reset controllers and tuning
        synth.control_change(chan, 121, 0)
        synth.pitchbend(chan, 8192)
        synth.set_tuning(chan, 0.0)
    if band is not None:
        for b in range(TUNING_BANDS):
            synth.set_tuning(_band_channel(b), float(tuning[b]) / 100.0)
    for chan, (program, is_drum) in channels.items():
        try:
            synth.program_select(chan, sfid, 0, program, is_drums=is_drum)
        except RuntimeError:
            warnings.warn(f"SoundFont {sf_path.name} has no {'drum kit' if is_drum else 'program'} "
                          f"{program}; using preset 0", stacklevel=2)
            synth.program_select(chan, sfid, 0, 0, is_drums=is_drum)
    last = max((e[0] for e in events), default=0)
    total = last + int(round(tail_seconds * sample_rate)) + 1
    out = np.zeros((total, 2), dtype=np.float32)
    view = memoryview(out).cast("B")
    frame_bytes = out.itemsize * 2
    pos = 0
    for sample, _, _, action in events:
        if sample > pos:
            synth.generate_simple(sample - pos,
                                  buffer=view[pos * frame_bytes: sample * frame_bytes])
            pos = sample
        kind, chan = action[0], action[1]
        if kind == "on":
            synth.noteon(chan, action[2], int(np.clip(action[3], 1, 127)))
        elif kind == "off":
            synth.noteoff(chan, action[2])
        elif kind == "cc":
            synth.control_change(chan, action[2], action[3])
        else:
            synth.pitchbend(chan, int(np.clip(action[2], 0, 16383)))
    if total > pos:
        synth.generate_simple(total - pos, buffer=view[pos * frame_bytes:])
    _silence(synth, int(sample_rate))
    return out.mean(axis=1, dtype=np.float32)


def _silence(synth, sample_rate: int) -> None:
    """Stop every voice: a quick release, rendered away, so the next render starts silent."""
    for chan in range(16):
        synth.sounds_off(chan)
    synth.generate_simple(sample_rate // 10)


def render_performance(performance, sample_rate: int, soundfont: str | os.PathLike | None = None,
                       gain_db: float = 0.0, program: int = 0) -> tuple[np.ndarray, float]:
    """Render a `perform.Performance` on piano: SoundFont, brightness tilt, peak limit.

    `program` is the General MIDI program played (0 Acoustic Grand, 1 Bright Acoustic, 2
    Electric Grand, 4 Electric Piano 1, ...): another timbre for the same performance.
    Returns (float32 `(S,)` audio, limiter factor); the factor is 1.0 unless the peak
    exceeded 0.99 and the whole file was scaled down.
    """
    from .tone import limit, tilt

    midi = performance.midi()
    for instrument in midi.instruments:
        instrument.program = program
    y = render_midi(midi, sample_rate, soundfont, gain_db=gain_db)
    return limit(tilt(y, sample_rate, performance.params.brightness))
