"""Sheet music from notes: beats, metre, key, quantised rhythm, hands and voices, MusicXML.

The pipeline (`notate.notate`) turns `(N, 4)` notes (onset s, offset s, MIDI pitch, velocity),
optionally with the sustain pedal and the audio they came from, into a `Notation`:

    beats.py     beat times: an onset envelope from the notes (plus the audio's spectral flux
                 when there is audio), a tempo prior, dynamic-programming beat tracking
    metre.py     beats per bar, simple or compound, and where the first downbeat is
    key.py       key signature: Krumhansl-Kessler profiles against the duration-weighted
                 pitch-class histogram
    quantize.py  onsets and ends on a grid chosen per beat (duplets or triplets, Viterbi)
    hands.py     two staves: a per-chord split with pitch continuity and hand-span limits
    voices.py    chords and voices per staff; a note is written no longer than its voice allows
    musicxml.py  the music21 score (ties over barlines, rests, clefs, key, metre, tempo)
    tempomap.py  MIDI whose tempo map follows the beats, so it lines up with the score
    evaluate.py  round trip against rendered held-out works (`python -m ...notation.evaluate`)
    cli.py       `pianox score NOTES.mid -o OUTDIR`

Nothing here imports music21 until a score is written or read.
"""
