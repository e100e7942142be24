"""The perception head: grouping, shapes and range, target standardisation, uncertainty weights."""

from __future__ import annotations

import pytest
import torch

from pianox.sources.percepiano import DIMENSIONS
from pianox_perception.balance import UncertaintyWeights
from pianox_perception.dimensions import AUDIBLE, DEFAULT_GROUPS, SEED_GROUPS, resolve_groups
from pianox_perception.head import PerceptionHead
from pianox_perception.task import PerceptionTask


def test_default_grouping_covers_each_dimension_exactly_once():
    groups = resolve_groups(DEFAULT_GROUPS)
    flat = [i for _, idx in groups for i in idx]
    assert sorted(flat) == list(range(19)) and len(flat) == 19
    names = {n: [DIMENSIONS[i] for i in idx] for n, idx in groups}
    assert names["timing"] == ["Timing_Stable_Unstable"]
    assert all(d.startswith(("Dynamic", "Articulation", "Timbre")) for d in names["dynamics"])
    assert len(names["musicality"]) == 2 + 4 + 3 + 1  # pedal + music making + emotion + interpretation
    for group, categories in SEED_GROUPS.items():  # the seed grouping is kept
        assert set(categories) <= set(DEFAULT_GROUPS[group])
    assert set(AUDIBLE) <= set(DIMENSIONS) and len(AUDIBLE) == 9


@pytest.mark.parametrize("groups,match", [
    ({"a": ["Timing"]}, "in no group"),
    ({"a": ["Timing", "Pedal"], "b": ["Pedal_Clean_Blurred"], "c": list(DEFAULT_GROUPS["dynamics"]) +
      ["Music_Making", "Emotion_&_Mood", "Interpretation"]}, "Pedal_Clean_Blurred.*groups 'a' and 'b'"),
    ({"a": ["Tempo"]}, "neither a category"),
])
def test_bad_groupings_are_rejected(groups, match):
    with pytest.raises(ValueError, match=match):
        resolve_groups(groups)


@pytest.mark.parametrize("layout", ["grouped", "shared"])
@pytest.mark.parametrize("pool", ["prefix", "mean", "attention"])
def test_head_shapes_and_rating_range(layout, pool):
    torch.manual_seed(0)
    head = PerceptionHead(24, 2, resolve_groups(DEFAULT_GROUPS), layout=layout, pool=pool, hidden=8)
    states = torch.randn(5, 2 + 12, 24) * 10
    real = torch.ones(5, 14, dtype=torch.bool)
    real[1, 9:] = False
    z = head(states, real)
    assert z.shape == (5, 19) and torch.isfinite(z).all()
    ratings = head.ratings(z * 100)  # far outside the scale: still clipped to [0, 1]
    assert ratings.shape == (5, 19) and ratings.min() >= 0 and ratings.max() <= 1
    assert len(head.mlps) == (3 if layout == "grouped" else 1)
    assert len(head.pools) == (3 if layout == "grouped" and pool == "attention" else 1)


def test_mean_and_attention_pooling_ignore_padded_tokens():
    head_mean = PerceptionHead(8, 1, resolve_groups(DEFAULT_GROUPS), pool="mean", hidden=0, dropout=0.0)
    head_att = PerceptionHead(8, 1, resolve_groups(DEFAULT_GROUPS), pool="attention", hidden=0, dropout=0.0)
    states = torch.randn(2, 7, 8)
    real = torch.tensor([[True] * 5 + [False] * 2] * 2)
    changed = states.clone()
    changed[:, 5:] = 1e3
    for head in (head_mean.eval(), head_att.eval()):
        torch.testing.assert_close(head(states, real), head(changed, real))
    pooled = head_mean.pools[0](states, real)
    torch.testing.assert_close(pooled, states[:, 1:5].mean(dim=1))


def test_observe_standardises_with_training_statistics_and_preserves_outputs():
    torch.manual_seed(1)
    head = PerceptionHead(16, 0, resolve_groups(DEFAULT_GROUPS), pool="mean", hidden=8, dropout=0.0).eval()
    states, real = torch.randn(4, 6, 16), torch.ones(4, 6, dtype=torch.bool)
    before = head.ratings(head(states, real))
    batches = [torch.rand(8, 19) * 0.5 + 0.25 for _ in range(3)]
    for b in batches:
        head.observe(b)
    every = torch.cat(batches)
    torch.testing.assert_close(head.target_mean, every.mean(0))
    torch.testing.assert_close(head.target_std, every.std(0, unbiased=False).clamp(min=0.02))
    # PopArt: the de-standardised outputs did not move (away from the [0, 1] clip)
    torch.testing.assert_close(head.ratings(head(states, real)), before, atol=1e-5, rtol=0)
    z = head.standardise(every)
    torch.testing.assert_close(z.mean(0), torch.zeros(19), atol=1e-5, rtol=0)


def test_group_normalisation_shares_one_mean_per_group():
    groups = resolve_groups(DEFAULT_GROUPS)
    head = PerceptionHead(8, 0, groups, normalise="group")
    head.observe(torch.rand(32, 19))
    for _, idx in groups:
        assert torch.allclose(head.target_mean[idx], head.target_mean[idx[0]])
        assert torch.allclose(head.target_std[idx], head.target_std[idx[0]])


def test_uncertainty_weighting_formula_and_optimum():
    weights = UncertaintyWeights(3)
    losses = torch.tensor([0.5, 2.0, 0.1])
    with torch.no_grad():
        weights.log_vars.copy_(torch.tensor([0.3, -0.2, 1.0]))
    s = weights.log_vars.detach()
    expected = (0.5 * torch.exp(-s) * losses + 0.5 * s).sum()
    torch.testing.assert_close(weights(losses), expected)
    # d/ds [0.5 e^-s L + 0.5 s] = 0 at s = log L: the learned weights settle at 1 / (2 L)
    with torch.no_grad():
        weights.log_vars.copy_(torch.log(losses))
    weights(losses).backward()
    torch.testing.assert_close(weights.log_vars.grad, torch.zeros(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(weights.weights(), 0.5 / losses)


def test_combine_without_balancing_is_the_weighted_mse():
    groups = resolve_groups(DEFAULT_GROUPS)
    head = PerceptionHead(8, 0, groups, balance="none", normalise="none", hidden=0)
    z, y = torch.rand(6, 19), torch.rand(6, 19)
    total = head.combine(head.group_losses(z, y))
    torch.testing.assert_close(total, ((z - y) ** 2).mean())


def test_task_config_validation_and_prefix_pool_needs_prefix_tokens():
    with pytest.raises(ValueError, match="groups"):
        PerceptionTask.Config(groups={"a": ["Timing"]}).validate()
    with pytest.raises(ValueError, match="weights"):
        PerceptionTask.Config(weights={"Nope": 1.0}).validate()
    with pytest.raises(ValueError, match="mixup"):
        PerceptionTask.Config(cache_states=True, mixup_prob=0.5).validate()
    from pianox.errors import ConfigError
    from pianox_perception.cnn import CNNEncoder

    task = PerceptionTask(PerceptionTask.Config(pool="prefix"))
    with pytest.raises(ConfigError, match="pool = 'prefix'"):
        task.build_head(CNNEncoder(num_bins=32), None)
