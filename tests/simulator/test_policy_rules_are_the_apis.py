"""The simulator's policy files obey the API's rules: one rule set, not two that disagree."""

from __future__ import annotations

import pytest

from scaling.simulator.policy_json import PolicyError, spec_from_dict


def _floor(**changes) -> dict:
    return {
        "days": ["mon"],
        "start": "08:00",
        "end": "18:00",
        "timezone": "UTC",
        "min_replicas": 1,
    } | changes


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"scale_up_pods_per_period": 0}, "scale_up_pods_per_period"),
        ({"schedule_floors": [_floor(start="22:00", end="06:00")]}, "schedule_floors[0].end"),
        ({"max_replicas": 2, "schedule_floors": [_floor(min_replicas=3)]}, "min_replicas"),
        ({"scale_down_stabilization_s": 7200}, "scale_down_stabilization_s"),
        ({"target_prompt_tokens_per_s_per_replica": 0}, "target_prompt_tokens_per_s_per_replica"),
    ],
)
def test_a_policy_the_api_refuses_is_refused_with_the_same_field(policy, field):
    with pytest.raises(PolicyError) as raised:
        spec_from_dict(policy)
    assert field in raised.value.field


def test_a_policy_the_api_accepts_is_accepted():
    spec = spec_from_dict({"max_replicas": 3, "schedule_floors": [_floor()]})
    assert spec.max_replicas == 3
