"""Which samples a SoundFont preset plays: the evidence behind "held-out timbre".

Two presets are the same instrument to a model when they play the same recordings, whatever
their names, gains or filters: TimGM6mb's "Power" drum kit reuses 46 of its 48 samples from
the "Standard" kit, and its GM pianos 0, 1 and 3 share one set of 9 samples. So a timbre is
held out only when its presets' *samples* are disjoint from the training presets' samples.

`preset_samples(path, bank, program)` reads the SoundFont's RIFF structure (SF2: 16-bit PCM;
SF3: the same structure with Ogg-compressed sample data) — preset -> zones -> instruments ->
zones -> sample headers — and returns a digest of each sample's data bytes. Identical bytes
mean the same recording; the check cannot see one recording re-encoded differently in two
files (e.g. an SF2 sample and its Ogg copy in an SF3), which is why the record also keeps the
sample names.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from pianox.errors import DataError

GEN_INSTRUMENT = 41
GEN_SAMPLE_ID = 53
SF3_COMPRESSED = 0x10
DRUM_BANK = 128
_KNOWN_IDS = {b"LIST", b"smpl", b"sm24", b"phdr", b"pbag", b"pmod", b"pgen", b"inst", b"ibag",
              b"imod", b"igen", b"shdr", b"ifil", b"isng", b"INAM", b"irom", b"iver", b"ICRD",
              b"IENG", b"IPRD", b"ICOP", b"ICMT", b"ISFT"}


@dataclass(frozen=True)
class Sample:
    name: str
    digest: str
    """First 16 hex digits of the SHA-256 of the sample's data bytes."""


@dataclass(frozen=True)
class _Tables:
    presets: list[tuple[str, int, int, int]]  # name, program, bank, first bag
    pbag: list[int]
    pgen: list[tuple[int, int]]
    inst: list[tuple[str, int]]
    ibag: list[int]
    igen: list[tuple[int, int]]
    samples: list[Sample]


def _chunks(data: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    """{id or LIST type: (data start, data end)} of the chunks in data[start:end]."""
    out: dict[str, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= end:
        cid = data[pos:pos + 4].decode("latin-1")
        size = struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == "LIST":
            out[data[body:body + 4].decode("latin-1")] = (body + 4, body + size)
        else:
            out[cid] = (body, body + size)
        pos = body + size
        # RIFF pads odd chunks to even offsets, but some SF3 writers (MuseScore General) do not
        if size & 1 and data[pos:pos + 4] in _KNOWN_IDS:
            continue
        pos += size & 1
    return out


def _records(data: bytes, span: tuple[int, int], fmt: str) -> list[tuple]:
    size = struct.calcsize(fmt)
    a, b = span
    return [struct.unpack_from(fmt, data, p) for p in range(a, b - size + 1, size)]


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


@functools.lru_cache(maxsize=8)
def _tables(path: str, size: int, mtime: float) -> _Tables:
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise DataError(f"{path} is not a SoundFont (no RIFF sfbk header)")
    top = _chunks(data, 12, len(data))
    if "sdta" not in top or "pdta" not in top:
        raise DataError(f"{path}: SoundFont without sdta/pdta lists")
    sdta, pdta = _chunks(data, *top["sdta"]), _chunks(data, *top["pdta"])
    missing = [c for c in ("phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr") if c not in pdta]
    if missing or "smpl" not in sdta:
        raise DataError(f"{path}: SoundFont without {', '.join(missing or ['smpl'])}")
    smpl_start, smpl_end = sdta["smpl"]
    samples = []
    for rec in _records(data, pdta["shdr"], "<20sIIIIIBbHH")[:-1]:  # the last is the terminal EOS
        name, start, end, kind = _name(rec[0]), rec[1], rec[2], rec[9]
        scale = 1 if kind & SF3_COMPRESSED else 2  # SF3: byte offsets; SF2: 16-bit words
        a, b = smpl_start + start * scale, smpl_start + end * scale
        body = data[a:min(b, smpl_end)] if a < smpl_end else b""
        samples.append(Sample(name, hashlib.sha256(body).hexdigest()[:16]))
    presets = [(_name(r[0]), r[1], r[2], r[3]) for r in _records(data, pdta["phdr"], "<20sHHHIII")]
    return _Tables(presets=presets, pbag=[r[0] for r in _records(data, pdta["pbag"], "<HH")],
                   pgen=[(r[0], r[1]) for r in _records(data, pdta["pgen"], "<HH")],
                   inst=[(_name(r[0]), r[1]) for r in _records(data, pdta["inst"], "<20sH")],
                   ibag=[r[0] for r in _records(data, pdta["ibag"], "<HH")],
                   igen=[(r[0], r[1]) for r in _records(data, pdta["igen"], "<HH")], samples=samples)


def _generators(bags: list[int], gens: list[tuple[int, int]], first: int, last: int, oper: int) -> list[int]:
    out = []
    for z in range(first, min(last, len(bags) - 1)):
        out.extend(amount for op, amount in gens[bags[z]:bags[z + 1]] if op == oper)
    return out


def preset_samples(path: str | Path, bank: int, program: int) -> tuple[str, list[Sample]]:
    """(preset name, its samples sorted by digest) of (bank, program) in the SoundFont at
    `path`; DataError naming the file when it has no such preset."""
    p = Path(path)
    st = p.stat()
    t = _tables(str(p), st.st_size, st.st_mtime)
    for i, (name, prog, bnk, bag) in enumerate(t.presets[:-1]):
        if prog != program or bnk != bank:
            continue
        found: dict[str, Sample] = {}
        for inst in _generators(t.pbag, t.pgen, bag, t.presets[i + 1][3], GEN_INSTRUMENT):
            if inst + 1 >= len(t.inst):
                continue
            first, last = t.inst[inst][1], t.inst[inst + 1][1]
            for sid in _generators(t.ibag, t.igen, first, last, GEN_SAMPLE_ID):
                if sid < len(t.samples):
                    found[t.samples[sid].digest] = t.samples[sid]
        return name, sorted(found.values(), key=lambda s: s.digest)
    raise DataError(f"{p} has no preset bank {bank} program {program}")


def timbre_record(path: str | Path, bank: int, program: int) -> dict:
    """What a corpus stamp records of one preset it rendered with: the SoundFont's file name,
    bank, program, preset name and the digests (and names) of its samples."""
    name, samples = preset_samples(path, bank, program)
    return {"soundfont": Path(path).name, "bank": bank, "program": program, "preset": name,
            "samples": [s.digest for s in samples], "sample_names": [s.name for s in samples]}
