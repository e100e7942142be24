"""Note decoder and generation: KV cache equivalence, grammar validity under every strategy,
beam search optimality on a hand-made model, sampling filters."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from pianox_transcription.generate import DecodeOptions, generate
from pianox_transcription.grammar import Grammar
from pianox_transcription.sequence import validate
from pianox_transcription.tokens import EOS, PAD, SOS


def _memory(batch: int = 3, length: int = 7, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    memory = torch.randn(batch, length, 24, generator=g)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, 5:] = False  # a padded row: cross-attention must ignore its last keys
    return memory, mask


@torch.no_grad()
def test_kv_cache_matches_full_recomputation(decoder, vocab):
    memory, mask = _memory()
    tokens = torch.randint(4, vocab.size, (3, 12), generator=torch.Generator().manual_seed(2))
    tokens[:, 0] = SOS
    full = decoder(tokens, memory, mask)  # (B, L, V)
    state = decoder.begin(memory, mask)
    steps = torch.stack([decoder.step(state, tokens[:, i]) for i in range(12)], dim=1)
    assert torch.allclose(steps, full, atol=1e-5)
    chunked = decoder.begin(memory, mask)  # a prompt fed at once, then single steps
    first = decoder.step(chunked, tokens[:, :5])
    rest = [decoder.step(chunked, tokens[:, i]) for i in range(5, 12)]
    assert torch.allclose(first, full[:, 4], atol=1e-5)
    assert torch.allclose(torch.stack(rest, 1), full[:, 5:], atol=1e-5)


@torch.no_grad()
def test_padded_memory_keys_are_ignored(decoder, vocab):
    memory, mask = _memory()
    tokens = torch.full((3, 4), SOS)
    changed = memory.clone()
    changed[1, 5:] += 100.0
    assert torch.allclose(decoder(tokens, memory, mask)[1], decoder(tokens, changed, mask)[1], atol=1e-5)


@pytest.mark.parametrize("options", [
    DecodeOptions("greedy", max_tokens=40),
    DecodeOptions("beam", max_tokens=40, beam_size=3, length_penalty=0.6),
    DecodeOptions("sample", max_tokens=40, temperature=2.0, seed=0),
    DecodeOptions("sample", max_tokens=40, temperature=1.5, top_k=20, top_p=0.9, seed=1),
], ids=["greedy", "beam", "sample", "sample-topk-topp"])
@torch.no_grad()
def test_random_weights_always_decode_valid_sequences(decoder, vocab, options):
    memory, mask = _memory(batch=4, seed=3)
    bins = torch.tensor([50, 50, 37, 12])  # the last segments are shorter
    factory = lambda rows: Grammar(vocab, rows, bins.repeat_interleave(rows // 4))  # noqa: E731
    seqs = generate(decoder, memory, mask, options, factory)
    assert len(seqs) == 4
    for seq, n in zip(seqs, bins.tolist()):
        assert len(seq) <= options.max_tokens and seq[-1] == EOS
        assert validate(seq, vocab, n * vocab.time_step) is None, seq


class RandomLogits:
    """A step model drawing fresh random logits every step: stresses every grammar branch."""

    def __init__(self, vocab_size: int, seed: int, scale: float = 4.0):
        self.g = torch.Generator().manual_seed(seed)
        self.v, self.scale = vocab_size, scale

    def begin(self, memory, memory_mask, repeat):
        return _NoState()

    def step(self, state, tokens):
        return torch.randn(tokens.shape[0], self.v, generator=self.g) * self.scale


class _NoState:
    def reorder(self, index):
        """The random decoder keeps no per-beam state, so there is nothing to reorder."""


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sample"])
def test_grammar_under_random_logits(vocab, strategy):
    for seed in range(8):
        options = DecodeOptions(strategy, max_tokens=int(8 + 11 * seed), beam_size=2, seed=seed)
        seqs = generate(RandomLogits(vocab.size, seed), torch.zeros(16, 1, 1), None, options,
                        lambda rows: Grammar(vocab, rows, 50))
        for seq in seqs:
            assert validate(seq, vocab, 0.5) is None, seq
            assert len(seq) <= options.max_tokens


class TableModel:
    """A toy autoregressive model over tokens {PAD, SOS, EOS, a=3, b=4}: the next-token
    distribution depends only on the previous token (a fixed table)."""

    def __init__(self, table: dict[int, list[float]]):
        self.table = {k: torch.log(torch.tensor(v)) for k, v in table.items()}

    def begin(self, memory, memory_mask, repeat):
        return _NoState()

    def step(self, state, tokens):
        return torch.stack([self.table[int(t)] for t in tokens])

    def logprob(self, seq):
        prev, total = SOS, 0.0
        for t in seq:
            total += float(self.table[prev][t])
            prev = t
        return total


def test_beam_search_finds_the_argmax_sequence():
    # Greedy takes "a" (0.6) but every continuation of "a" is poor; "b" (0.4) leads to a sure EOS.
    table = {SOS: [0, 0, 0.0, 0.6, 0.4], 3: [0, 0, 0.3, 0.35, 0.35], 4: [0, 0, 1.0, 0.0, 0.0],
             EOS: [1.0, 0, 0, 0, 0], PAD: [1.0, 0, 0, 0, 0]}
    model = TableModel(table)
    max_tokens = 4
    best, best_score = None, -math.inf  # exhaustive search over every sequence that ends in EOS
    for n in range(1, max_tokens + 1):
        for body in itertools.product((3, 4), repeat=n - 1):
            seq = [*body, EOS]
            if model.logprob(seq) > best_score:
                best, best_score = seq, model.logprob(seq)
    memory = torch.zeros(1, 1, 1)
    beam = generate(model, memory, None, DecodeOptions("beam", max_tokens=max_tokens, beam_size=2, length_penalty=0.0))
    greedy = generate(model, memory, None, DecodeOptions("greedy", max_tokens=max_tokens))
    assert best == [4, EOS] and beam == [best]
    assert greedy[0][:1] == [3] and model.logprob(greedy[0]) < best_score


def test_top_k_and_top_p_restrict_sampling():
    # first token: EOS 0.5, a 0.3, b 0.2; after a or b: EOS
    model = TableModel({SOS: [0, 0, 0.5, 0.3, 0.2], 3: [0, 0, 1.0, 0, 0], 4: [0, 0, 1.0, 0, 0],
                        EOS: [1.0, 0, 0, 0, 0], PAD: [1.0, 0, 0, 0, 0]})

    def firsts(**kw):
        seqs = generate(model, torch.zeros(64, 1, 1), None, DecodeOptions("sample", max_tokens=3, seed=5, **kw))
        return {s[0] for s in seqs}

    assert firsts() == {EOS, 3, 4}
    assert firsts(top_k=2) == {EOS, 3}
    assert firsts(top_p=0.5) == {EOS}
    assert firsts(top_p=0.6) == {EOS, 3}


def test_decode_options_are_validated():
    with pytest.raises(ValueError, match="strategy"):
        DecodeOptions("nucleus").validate()
    with pytest.raises(ValueError, match="top_p"):
        DecodeOptions("sample", top_p=0.0).validate()


def test_generation_restores_the_thread_count(decoder):
    memory, mask = _memory()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generate(decoder, memory, mask, DecodeOptions("greedy", max_tokens=4))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
