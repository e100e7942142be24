"""Piano transcription (task `transcription`): audio -> timed notes.

Two heads on the encoder, chosen by `head`:

    seq2seq  an autoregressive note decoder over MT3-style event tokens (see tokens.py),
             trained with teacher forcing; decoded greedy, by beam search or by sampling,
             always under the grammar mask, and stitched across segments through ties
    frames   Onsets-and-Frames posteriors (onset, frame, offset, velocity x 88 keys at the
             features' frame rate), decoded by `pianox.decode.frames_to_notes`
    both     the two trained jointly (loss = seq2seq_weight * CE + frames_weight * frame loss);
             metrics are reported per head with a `seq2seq_` / `frames_` prefix

Targets come from the source's `notes` (N, 4) (maestro / maestro_twin), relative to each
span; spans must not be longer than `segment_seconds`. Evaluation scores whole pieces
(mir_eval note and frame metrics, mean over pieces; see metrics.py) plus `loss` and, for
seq2seq, teacher-forced `token_acc`. The frame head decodes with `self.thresholds`: the
[task]'s, until `finish` tunes them on the validation split (thresholds.py, tune.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pianox.api import Example
from pianox.errors import ConfigError, DataError

from .decoder import NoteDecoder
from .frames import FrameHead, frame_loss, note_rolls
from .generate import DecodeOptions
from .pieces import Pieces
from .predict import TranscriptionHead, decode_segments, encode, frame_logits, frame_posteriors, grid_geometry
from .thresholds import Thresholds
from .tokens import PAD, SOS, Vocabulary
from .tokens import encode as encode_tokens


def check_tiling(features: Any, segment_seconds: float) -> None:
    """ConfigError unless a segment of `segment_seconds` gives segment_seconds x frame_rate
    frames (or one more: librosa's centred frames include the end point, which the next
    segment's first frame overwrites), so back-to-back segments tile a piece's frame grid
    with no gap: with
    Kaldi's snip_edges framing a 2 s segment yields 198 frames for 200 frames of time, and
    onsets in the last 20 ms of every segment could never be detected."""
    samples = int(round(segment_seconds * features.sample_rate))
    expected = segment_seconds * features.frame_rate
    got = features.num_frames(samples)
    if abs(expected - round(expected)) > 1e-6 or not round(expected) <= got <= round(expected) + 1:
        hint = {"kaldi": "snip_edges = false", "mel": "center = true"}.get(getattr(features, "name", ""),
                                                                          "centred frames")
        raise ConfigError(f"[features] kind = {getattr(features, 'name', '?')!r} gives {got} frames for a "
                          f"{segment_seconds:g} s segment, not {expected:g}: transcription segments must tile "
                          f"the frame grid exactly; set [features] {hint} (and a segment that is a whole "
                          f"number of hops)")


class TranscriptionTask:
    """Piano transcription with a seq2seq note decoder and/or a frame head (module doc)."""

    name = "transcription"

    @dataclass
    class Config:
        head: Literal["seq2seq", "frames", "both"] = "seq2seq"
        """Which head(s) to train and decode with."""
        segment_seconds: float = 2.0
        """Longest segment the token vocabulary covers (>= the source's segment_seconds)."""
        time_step: float = 0.01
        """Width of a TIME bin, seconds."""
        velocity_bins: int = 32
        pedal: bool = False
        """Also predict sustain-pedal events (seq2seq)."""
        decoder_layers: int = 4
        decoder_dim: int = 256
        decoder_heads: int = 8
        decoder_mlp: int = 1024
        max_tokens: int = 1024
        """Longest token sequence (SOS included); longer targets are truncated in training."""
        dropout: float = 0.1
        label_smoothing: float = 0.0
        frame_hidden: int = 256
        """Width of the frame head's per-time-patch projection."""
        frame_channels: int = 128
        """Width of the frame head's per-frame features."""
        onset_frames: int = 2
        """Frames marked as onset after each note start in the frame targets (2 = 20 ms at 100 fps)."""
        positive_weight: float = 1.0
        """BCE weight of positive onset/offset frames (> 1 speeds up learning these rare events)."""
        onset_threshold: float = 0.5
        """Frame-head decoding thresholds until the end of the run tunes onset and frame on the
        validation split (checkpoints/best/transcription_thresholds.json)."""
        frame_threshold: float = 0.5
        offset_threshold: float = 0.5
        """> 1 ignores the offset posteriors when decoding."""
        seq2seq_weight: float = 1.0
        frames_weight: float = 1.0
        strategy: Literal["greedy", "beam", "sample"] = "greedy"
        """Decoding used by evaluation (and by `pianox transcribe` unless --strategy)."""
        beam_size: int = 4
        length_penalty: float = 1.0
        temperature: float = 1.0
        top_k: int = 0
        top_p: float = 1.0
        eval_decode: bool = True
        """Decode notes at evaluation (note metrics); false = loss and token accuracy only."""

        def validate(self) -> None:
            if self.head not in ("seq2seq", "frames", "both"):
                raise ValueError(f"head={self.head!r}: expected 'seq2seq', 'frames' or 'both'")
            if self.segment_seconds <= 0 or self.time_step <= 0:
                raise ValueError("segment_seconds and time_step must be positive")
            if min(self.decoder_layers, self.decoder_dim, self.decoder_heads, self.decoder_mlp) < 1:
                raise ValueError("decoder_layers, decoder_dim, decoder_heads and decoder_mlp must be >= 1")
            if self.decoder_dim % self.decoder_heads:
                raise ValueError(f"decoder_dim={self.decoder_dim} is not divisible by "
                                 f"decoder_heads={self.decoder_heads}")
            if self.max_tokens < 3 or self.onset_frames < 1 or not 0 <= self.dropout < 1 or self.positive_weight <= 0:
                raise ValueError("need max_tokens >= 3, onset_frames >= 1, dropout in [0, 1) and positive_weight > 0")
            self.decode_options().validate()
            Vocabulary.for_segment(self.segment_seconds, self.time_step, self.velocity_bins, self.pedal)

        def decode_options(self, **changes: Any) -> DecodeOptions:
            """Generation settings from this config (`changes` override fields)."""
            opts = dict(strategy=self.strategy, max_tokens=self.max_tokens - 1, beam_size=self.beam_size,
                        length_penalty=self.length_penalty, temperature=self.temperature, top_k=self.top_k,
                        top_p=self.top_p)
            opts.update({k: v for k, v in changes.items() if v is not None})
            return DecodeOptions(**opts)

    def __init__(self, config: "TranscriptionTask.Config | None" = None):
        self.config = config if config is not None else self.Config()
        c = self.config
        self.vocab = Vocabulary.for_segment(c.segment_seconds, c.time_step, c.velocity_bins, c.pedal)
        self.frame_rate = 100.0
        self.thresholds: Thresholds | None = None
        """Tuned frame-head thresholds (set by `finish`); None: the [task]'s."""
        self.last_pieces: dict[str, Any] = {}
        self._collected: list[Pieces] | None = None

    @property
    def heads(self) -> tuple[str, ...]:
        return ("seq2seq", "frames") if self.config.head == "both" else (self.config.head,)

    # ------------------------------------------------------------------------------ contract

    def build_head(self, model: Any, features: Any) -> TranscriptionHead:
        c = self.config
        self.frame_rate = float(features.frame_rate)
        check_tiling(features, c.segment_seconds)
        decoder = frames = None
        if "seq2seq" in self.heads:
            decoder = NoteDecoder(self.vocab.size, model.dim, c.decoder_dim, c.decoder_layers, c.decoder_heads,
                                  c.decoder_mlp, c.dropout, c.max_tokens)
        if "frames" in self.heads:
            max_frames = getattr(getattr(model, "config", None), "max_frames", 1024)
            fp, tstride = grid_geometry(model, max_frames)
            frames = FrameHead(model.dim, fp, tstride, c.frame_hidden, c.frame_channels, c.dropout)
        return TranscriptionHead(decoder, frames)

    def _duration(self, example: Example, batch: dict[str, Any], i: int) -> float:
        if example.duration is not None:
            return float(example.duration)
        return float(batch["frames"][i]) / self.frame_rate

    def collate(self, examples: Sequence[Example], batch: dict[str, Any]) -> dict[str, Any]:
        notes, durations = [], []
        for i, e in enumerate(examples):
            if "notes" not in e.targets:
                raise DataError(f"example {e.key} has no 'notes' target: [task] kind = 'transcription' needs a "
                                f"source with note targets (maestro, maestro_twin) and targets = true")
            notes.append(np.asarray(e.targets["notes"], dtype=np.float64).reshape(-1, 4))
            durations.append(self._duration(e, batch, i))
        batch["notes"], batch["durations"] = notes, durations
        if "seq2seq" in self.heads:
            seqs = []
            for e, n, d in zip(examples, notes, durations):
                pedal = e.targets.get("pedal") if self.config.pedal else None
                try:
                    seqs.append([SOS] + encode_tokens(n, d, self.vocab, pedal)[: self.config.max_tokens - 1])
                except ValueError as exc:
                    raise ConfigError(f"example {e.key}: {exc}; raise [task] segment_seconds to at least "
                                      f"the source's segment_seconds") from exc
            tokens = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
            for i, s in enumerate(seqs):
                tokens[i, : len(s)] = torch.tensor(s)
            batch["tokens"] = tokens
        if "frames" in self.heads:
            T = batch["features"].shape[1]
            batch["rolls"] = torch.from_numpy(np.stack(
                [note_rolls(n, T, self.frame_rate, self.config.onset_frames) for n in notes]))
        return batch

    def _losses(self, model: Any, head: TranscriptionHead, batch: dict[str, Any]
                ) -> tuple[torch.Tensor, dict[str, float], dict[str, Any]]:
        """(total loss, logged parts, {"states", "mask", "frame_logits"}) of one batch."""
        c = self.config
        states, mask = encode(model, batch["features"], batch["padding_mask"])
        total = states.new_zeros((), dtype=torch.float32)
        logs: dict[str, float] = {}
        out: dict[str, Any] = {"states": states, "mask": mask, "frame_logits": None}
        if head.decoder is not None:
            head.decoder.attention_impl = getattr(model, "attention_impl", "auto")
            tokens = batch["tokens"]
            logits = head.decoder(tokens[:, :-1], states, mask).float()
            target = tokens[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD,
                                 label_smoothing=c.label_smoothing)
            real = target != PAD
            logs["ce"] = float(ce.detach())
            logs["token_acc"] = float(((logits.argmax(-1) == target) & real).sum() / real.sum().clamp(min=1))
            total = total + c.seq2seq_weight * ce
        if head.frames is not None:
            out["frame_logits"] = logits = frame_logits(model, head, states, batch["features"].shape[1])
            fl, parts = frame_loss(logits, batch["rolls"], batch["padding_mask"], c.positive_weight)
            logs.update(parts)
            total = total + c.frames_weight * fl
        return total, logs, out

    def loss(self, model: Any, head: TranscriptionHead, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        total, logs, _ = self._losses(model, head, batch)
        return total, logs

    def frames_to_notes(self, posteriors: np.ndarray) -> np.ndarray:
        """(4, T, 88) posteriors -> `(N, 4)` notes with `self.thresholds`, else the [task]'s."""
        return (self.thresholds or Thresholds.of(self.config)).notes(posteriors, self.frame_rate)

    @contextmanager
    def collecting(self) -> Iterator[list[Pieces]]:
        """Inside, `evaluate` only gathers: no seq2seq decoding, no note metrics; it appends its
        Pieces (references and frame posteriors of whole pieces) to the list yielded, for
        re-decoding them at other thresholds (tune.py)."""
        if "frames" not in self.heads:
            raise ConfigError(f"[task] head = {self.config.head!r} has no frame head to collect posteriors of")
        self._collected = box = []
        try:
            yield box
        finally:
            self._collected = None

    def evaluate(self, model: Any, head: TranscriptionHead, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        pieces = Pieces(self.frame_rate)
        sums: dict[str, float] = {}
        count = 0
        options = self.config.decode_options(seed=0)
        collecting = self._collected is not None
        for batch in batches:
            total, logs, out = self._losses(model, head, batch)
            size = batch["features"].shape[0]
            for k, v in {"loss": float(total), **logs}.items():
                sums[k] = sums.get(k, 0.0) + v * size
            count += size
            if not (self.config.eval_decode or collecting):
                continue
            segments = posts = None
            if head.decoder is not None and not collecting:
                segments = decode_segments(head.decoder, out["states"], out["mask"], self.vocab,
                                           batch["durations"], options)[1]
            if head.frames is not None:
                posts = frame_posteriors(out["frame_logits"])
            for i, key in enumerate(batch["keys"]):
                real = int(batch["frames"][i])
                pieces.add(key, batch["durations"][i], batch["notes"][i],
                           segments[i] if segments is not None else None,
                           posts[i][:, :real] if posts is not None else None)
        metrics = {k: v / max(count, 1) for k, v in sums.items()}
        if collecting:
            self._collected.append(pieces)
        elif self.config.eval_decode and count:
            metrics.update(self._score(pieces))
        return metrics

    def score_head(self, pieces: Pieces, name: str) -> dict[str, float]:
        """Mean note metrics of head `name` over `pieces` (keys prefixed `<name>_` when the task
        has both heads); its per-piece metrics and notes go to `last_pieces[name]`."""
        estimate = pieces.seq2seq_notes if name == "seq2seq" else (
            lambda p: pieces.frame_notes(p, self.frames_to_notes))
        notes = {p: estimate(p) for p in sorted(pieces.references)}
        per_piece, mean = pieces.score(notes.__getitem__)
        self.last_pieces[name] = {"metrics": per_piece, "notes": notes}
        prefix = f"{name}_" if len(self.heads) > 1 else ""
        return {prefix + k: v for k, v in mean.items()}

    def _score(self, pieces: Pieces) -> dict[str, float]:
        out: dict[str, float] = {}
        self.last_pieces = {}
        for name in self.heads:
            out.update(self.score_head(pieces, name))
        return out

    def finish(self, run: Any) -> None:
        """Tune the frame head's decoding thresholds on the validation split, store them in
        checkpoints/best and re-score the test split's frame head with them (tune.py); then
        write the last evaluation's per-piece metrics (pieces.json) and each piece's
        transcription (transcriptions/<head>/<piece>.mid and .csv) into the run directory."""
        from .outputs import write_transcription
        from .tune import tune_at_finish

        if "frames" in self.heads:
            tune_at_finish(self, run)
        if not self.last_pieces:
            return
        run.run.write_json("pieces.json", {h: r["metrics"] for h, r in self.last_pieces.items()})
        for h, r in self.last_pieces.items():
            for piece, notes in r["notes"].items():
                stem = piece.replace("/", "_")
                write_transcription(notes, run.run.path / "transcriptions" / h, stem, overwrite=True)
