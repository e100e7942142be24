"""Generation strategies over any step model: greedy, beam search and sampling.

A step model has `begin(memory, memory_mask, repeat) -> state`, `step(state, tokens (B,)) ->
logits (B, V)` and `state.reorder(index)` (the `NoteDecoder` does; tests use toy ones). With a
`Grammar`, tokens it forbids get -inf before any choice, so every strategy emits valid
sequences that end in EOS within `max_tokens`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

import torch

from .grammar import Grammar
from .tokens import EOS, PAD, SOS

STRATEGIES = ("greedy", "beam", "sample")


@dataclass
class DecodeOptions:
    """How to generate: strategy and its knobs; `max_tokens` counts generated tokens (EOS too)."""

    strategy: Literal["greedy", "beam", "sample"] = "greedy"
    max_tokens: int = 1023
    beam_size: int = 4
    length_penalty: float = 1.0
    """GNMT length normalisation exponent alpha: scores are divided by ((5 + len) / 6)^alpha."""
    temperature: float = 1.0
    top_k: int = 0
    """Sample among the k most likely tokens (0 = all)."""
    top_p: float = 1.0
    """Nucleus sampling: the smallest set of tokens whose probability reaches p."""
    seed: int | None = None

    def validate(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: expected one of {', '.join(STRATEGIES)}")
        if self.max_tokens < 2 or self.beam_size < 1 or self.temperature <= 0 or self.top_k < 0:
            raise ValueError("need max_tokens >= 2, beam_size >= 1, temperature > 0, top_k >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p} must be in (0, 1]")


GrammarFactory = Callable[[int], "Grammar | None"]
"""rows -> a fresh Grammar for that many sequences (or None for unconstrained decoding)."""


def _masked(logits: torch.Tensor, grammar: Grammar | None, remaining: int) -> torch.Tensor:
    logits = logits.float()
    if grammar is not None:
        logits = logits.masked_fill(~grammar.allowed(remaining), float("-inf"))
    return logits


def _finish(rows: list[list[int]]) -> list[list[int]]:
    """Cut each sequence after its EOS."""
    return [r[: r.index(EOS) + 1] if EOS in r else r for r in rows]


@contextlib.contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run a CPU generation loop on one intra-op thread. Each step's tensors are tiny (a few
    rows), so extra threads only add a barrier per op; on a busy machine those barriers made
    greedy decoding 7x slower than on one thread."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def generate(model: Any, memory: torch.Tensor, memory_mask: torch.Tensor | None, options: DecodeOptions,
             grammar: GrammarFactory | None = None) -> list[list[int]]:
    """Generate one token sequence (without SOS, ending in EOS when it fits) per row of memory
    (B, M, E) with `options.strategy`."""
    options.validate()
    with _one_thread(memory.device):
        if options.strategy == "beam" and options.beam_size > 1:
            return _beam(model, memory, memory_mask, options, grammar)
        return _greedy_or_sample(model, memory, memory_mask, options, grammar)


def _greedy_or_sample(model: Any, memory: torch.Tensor, memory_mask: torch.Tensor | None,
                      options: DecodeOptions, grammar: GrammarFactory | None) -> list[list[int]]:
    """Pick each next token by argmax (greedy) or by drawing from the filtered distribution."""
    B = memory.shape[0]
    state = model.begin(memory, memory_mask, 1)
    g = grammar(B) if grammar is not None else None
    gen = None
    if options.strategy == "sample":
        gen = torch.Generator(device=memory.device)
        gen.manual_seed(options.seed if options.seed is not None else int(torch.randint(2**62, (1,))))
    prev = torch.full((B,), SOS, dtype=torch.long, device=memory.device)
    done = torch.zeros(B, dtype=torch.bool, device=memory.device)
    out: list[torch.Tensor] = []
    for i in range(options.max_tokens):
        logits = _masked(model.step(state, prev), g, options.max_tokens - i)
        if options.strategy == "sample":
            tok = _sample(logits, options, gen)
        else:
            tok = logits.argmax(dim=-1)
        tok = torch.where(done, torch.full_like(tok, PAD), tok)
        if g is not None:
            g.advance(tok)
        out.append(tok)
        done |= tok == EOS
        prev = tok
        if bool(done.all()):
            break
    return _finish(torch.stack(out, dim=1).tolist())


def _sample(logits: torch.Tensor, options: DecodeOptions, gen: torch.Generator) -> torch.Tensor:
    """Draw one token per row from temperature-scaled logits (B, V) restricted by top-k / top-p."""
    logits = logits / options.temperature
    if options.top_k and options.top_k < logits.shape[-1]:
        kth = logits.topk(options.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if options.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
        drop = before >= options.top_p
        drop[:, 0] = False
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def _beam(model: Any, memory: torch.Tensor, memory_mask: torch.Tensor | None, options: DecodeOptions,
          grammar: GrammarFactory | None) -> list[list[int]]:
    """Beam search: keep the `beam_size` best prefixes by summed log-probability; finished
    beams carry on with PAD at no cost; the winner maximises score / ((5 + len) / 6)^alpha."""
    B, K, dev = memory.shape[0], options.beam_size, memory.device
    state = model.begin(memory, memory_mask, K)
    g = grammar(B * K) if grammar is not None else None
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    lengths = torch.zeros(B * K, dtype=torch.long, device=dev)
    done = torch.zeros(B * K, dtype=torch.bool, device=dev)
    seqs = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    prev = torch.full((B * K,), SOS, dtype=torch.long, device=dev)
    for i in range(options.max_tokens):
        logp = _masked(model.step(state, prev), g, options.max_tokens - i).log_softmax(dim=-1)
        V = logp.shape[-1]
        pad_only = torch.full_like(logp, float("-inf"))
        pad_only[:, PAD] = 0.0
        logp = torch.where(done[:, None], pad_only, logp)
        cand = (scores.view(B * K, 1) + logp).view(B, K * V)
        top, idx = cand.topk(K, dim=-1)
        beam, tok = idx // V, idx % V
        rows = (beam + torch.arange(B, device=dev)[:, None] * K).view(-1)
        tok = tok.view(-1)
        state.reorder(rows)
        if g is not None:
            g.reorder(rows)
            g.advance(tok)
        seqs = torch.cat([seqs.index_select(0, rows), tok[:, None]], dim=1)
        done = done.index_select(0, rows)
        lengths = lengths.index_select(0, rows) + (~done).long()
        done = done | (tok == EOS)
        scores = top
        prev = tok
        if bool(done.all()):
            break
    penalty = ((5.0 + lengths.float()) / 6.0) ** options.length_penalty
    final = (scores.view(-1) / penalty).view(B, K)
    final = torch.where(torch.isfinite(final), final, torch.full_like(final, float("-inf")))
    best = final.argmax(dim=-1) + torch.arange(B, device=dev) * K
    return _finish(seqs.index_select(0, best).tolist())
