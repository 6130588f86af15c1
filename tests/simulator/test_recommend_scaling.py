"""`manage.py recommend_scaling`: the cheapest candidate that meets the goal, and a PATCH body
the API accepts as is."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from scaling.comparison import compare
from scaling.presets import preset
from scaling.recommendation import candidates, prompt_token_target, recommend
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.profiles import DEFAULT_PROFILE, HARDWARE
from tests.simulator.conftest import steady_trace


def test_candidates_are_every_preset_and_its_neighbours_at_the_endpoints_maximum():
    specs = candidates(max_replicas=3)
    assert {"latency", "balanced", "cost", "balanced queue/2", "cost + kv-cache 0.5"} <= set(specs)
    for target in (6000, 4000):
        prompt = specs[f"balanced + prompt tokens {target}/s"]
        assert prompt.target_prompt_tokens_per_s_per_replica == target
    short_hold = specs["balanced + prompt tokens 4000/s, 300 s window"]
    assert short_hold.scale_down_stabilization_s == 300
    assert (
        short_hold.with_changes(scale_down_stabilization_s=1200)
        == (specs["balanced + prompt tokens 4000/s"])
    )
    assert {spec.max_replicas for spec in specs.values()} == {3}


MIG = HARDWARE["llama-3.1-8b/h100-mig-3g.40gb"]


def test_prompt_token_candidates_follow_the_profiles_prefill_rate():
    """The targets were found on an 8B H100 replica; a MIG slice prefills about 0.43x as fast,
    so its candidates ask for a replica at about 0.43x the prompt tokens."""
    share = MIG.prefill_tokens_per_s / DEFAULT_PROFILE.prefill_tokens_per_s
    assert 0.3 < share < 0.6
    specs = candidates(max_replicas=3, profile=MIG)
    targets = sorted(
        spec.target_prompt_tokens_per_s_per_replica
        for name, spec in specs.items()
        if spec.target_prompt_tokens_per_s_per_replica and "window" not in name
    )
    assert targets == [round(4000 * share, -2), round(6000 * share, -2)]
    for target in targets:
        assert f"balanced + prompt tokens {target:.0f}/s" in specs
    short_hold = specs[f"balanced + prompt tokens {targets[0]:.0f}/s, 300 s window"]
    assert short_hold.target_prompt_tokens_per_s_per_replica == targets[0]
    assert candidates(max_replicas=3) == candidates(max_replicas=3, profile=DEFAULT_PROFILE)


def test_on_a_mig_slice_the_carried_target_scales_for_long_prompts_the_h100_one_does_not():
    """3000 prompt tokens/s of 6k-token prompts: over the slice's carried target (1700/s), under
    the H100's 4000/s, which would leave that load to one slice."""
    trace = steady_trace(0.5, 900, prompt=6000, output=50)
    config = SimConfig(profile=MIG, warmup_s=300)
    base = preset("balanced", max_replicas=4).with_changes(target_kv_cache_usage_per_replica=None)
    carried = prompt_token_target(4000.0, MIG)
    scaled = simulate(
        trace, base.with_changes(target_prompt_tokens_per_s_per_replica=carried), config
    )
    as_on_h100 = simulate(
        trace, base.with_changes(target_prompt_tokens_per_s_per_replica=4000.0), config
    )
    assert scaled.peak_replicas > as_on_h100.peak_replicas


def test_a_recommendation_for_a_mig_endpoint_replays_the_carried_targets():
    chosen = recommend(
        steady_trace(2.0, 600), max_replicas=4, goal=0.9, config=SimConfig(profile=MIG)
    )
    names = {o.name for o in chosen.comparison.outcomes}
    carried = prompt_token_target(4000.0, MIG)
    assert f"balanced + prompt tokens {carried:.0f}/s" in names
    assert "balanced + prompt tokens 4000/s" not in names


def test_candidates_include_the_faster_scale_down_no_preset_carries():
    faster = candidates(max_replicas=3)["balanced + down 25 %/period"]
    assert faster.scale_down_percent_per_period == 25
    assert (
        faster.with_changes(scale_down_percent_per_period=10)
        == candidates(max_replicas=3)["balanced"]
    )


def test_the_cheapest_candidate_meeting_the_goal_is_chosen():
    chosen = recommend(steady_trace(2.0, 600), max_replicas=4, goal=0.9, config=SimConfig())
    assert chosen.meets_goal
    meeting = [o for o in chosen.comparison.outcomes if o.result.slo_attainment_servable >= 0.9]
    assert chosen.name == min(meeting, key=lambda o: o.result.gpu_hours).name
    assert "the cheapest meeting 90%" in chosen.reason()


def test_the_chosen_candidate_meets_the_goal_on_average_over_five_seeds():
    chosen = recommend(steady_trace(2.0, 600), max_replicas=4, goal=0.9, config=SimConfig(seed=3))
    [confirmation] = chosen.confirmations
    assert confirmation.name == chosen.name
    assert confirmation.held
    assert [seed for seed, _ in confirmation.attainment_by_seed] == [3, 4, 5, 6, 7]
    assert confirmation.mean >= 0.9
    assert "on average over 5 simulation seeds" in chosen.reason()


def test_a_candidate_that_met_the_goal_on_one_seed_only_is_not_chosen(small_trace):
    """`cost` meets a burst from idle with one replica: whether the second is ready in time
    depends on the cold start drawn, so its attainment swings between seeds (28-58 % on seeds
    0-11, 100 % where it scaled like `balanced`). At a goal it met on one seed but not on
    average over that seed and the next four, the recommendation passes over it."""
    cost = preset("cost", max_replicas=6)
    attained = [
        compare(small_trace, {"cost": cost}, SimConfig(seed=seed))
        .outcomes[0]
        .result.slo_attainment_servable
        for seed in range(12)
    ]
    lucky_seed = next(s for s in range(8) if sum(attained[s : s + 5]) / 5 < attained[s] < 1.0)
    goal = attained[lucky_seed]

    once = recommend(
        small_trace,
        max_replicas=6,
        goal=goal,
        config=SimConfig(seed=lucky_seed),
        confirmation_seeds=0,
    )
    assert once.name.startswith("cost"), once.reason()

    chosen = recommend(small_trace, max_replicas=6, goal=goal, config=SimConfig(seed=lucky_seed))
    missed, *_, held = chosen.confirmations
    assert missed.name == once.name
    assert not missed.held
    assert missed.mean < goal
    assert held.name == chosen.name != once.name
    assert held.held
    assert chosen.meets_goal
    assert held.mean >= goal
    assert f"under the goal on other seeds: {once.name}" in chosen.reason()


def test_an_unreachable_goal_says_so_and_names_the_closest(small_trace):
    chosen = recommend(small_trace, max_replicas=1, goal=1.0, config=SimConfig())
    assert not chosen.meets_goal
    assert chosen.reason().startswith("No candidate meets 100%")
    assert chosen.confirmations == ()


@pytest.mark.django_db
def test_the_command_prints_a_patch_the_api_accepts(tmp_path, client_for_deployer):
    path = tmp_path / "trace.csv"
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    lines += [f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,300,20" for i in range(600)]
    path.write_text("\n".join(lines) + "\n")
    out = StringIO()
    call_command("recommend_scaling", "--trace", str(path), "--max-replicas", "2", stdout=out)
    text = out.getvalue()
    body = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert "Reproduce: manage.py recommend_scaling --trace" in text
    response = client_for_deployer.patch("/api/v1/tenants/acme/endpoints/chat/", body)
    assert response.status_code == 200, response.json()
    assert response.json()["scaling"]["max_replicas"] == 2


def test_the_command_prints_the_floors_it_learned(tmp_path):
    # Quiet from 08:30, then a 2-minute burst at 09:00 that the presets meet with cold starts.
    path = tmp_path / "trace.csv"
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens", "2024-01-01 08:30:00.0000000,300,20"]
    lines += [
        f"2024-01-01 09:{i // 12 // 60:02d}:{i // 12 % 60:02d}.{i % 12 * 833:04d}000,2000,200"
        for i in range(1440)
    ]
    path.write_text("\n".join(lines) + "\n")
    out = StringIO()
    call_command("recommend_scaling", "--trace", str(path), "--max-replicas", "8", stdout=out)
    text = out.getvalue()
    assert "Schedule floors learned where a preset met a cold start:" in text
    assert "cost: at least 2 on mon 08:55-10:00 UTC" in text


def test_the_command_replays_a_trace_on_the_profile_asked_for(tmp_path):
    path = tmp_path / "trace.csv"
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    lines += [f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,300,20" for i in range(300)]
    path.write_text("\n".join(lines) + "\n")
    out = StringIO()
    call_command(
        "recommend_scaling",
        *("--trace", str(path), "--max-replicas", "2", "--profile", MIG.name),
        stdout=out,
    )
    text = out.getvalue()
    assert f"balanced + prompt tokens {prompt_token_target(4000.0, MIG):.0f}/s" in text
    assert "balanced + prompt tokens 4000/s" not in text
    assert f"--profile {MIG.name}" in text.splitlines()[-1]


def test_an_endpoint_is_replayed_on_its_own_profile_not_one_asked_for():
    with pytest.raises(CommandError, match="--profile applies to --trace only"):
        call_command("recommend_scaling", "--endpoint", "acme/chat", "--profile", MIG.name)


def test_a_trace_needs_a_maximum(tmp_path):
    with pytest.raises(CommandError, match="--max-replicas is required"):
        call_command("recommend_scaling", "--trace", str(tmp_path / "t.csv"))


@pytest.fixture
def client_for_deployer(db):
    from tests.world import build_world

    world = build_world()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys['deployer']}")
    return client
