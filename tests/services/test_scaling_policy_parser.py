"""`parse_policy` is the one home of the scaling rules: the API's schema is built from them, the
simulator's policy files go through them, and a change is applied to the stored policy as a
typed `ScalingChange`."""

from __future__ import annotations

import pytest

from control_plane.errors import ValidationFailed
from scaling.api.serializers import ScalingPolicyInputSerializer
from scaling.policy import FIELD_RULES, TUNABLE_FIELDS, parse_change, parse_policy
from scaling.presets import PRESETS
from scaling.simulator.policy_json import PolicyError, spec_from_dict
from scaling.spec import ScalingSpec

FLOOR = {"days": ["mon"], "start": "08:00", "end": "18:00", "timezone": "UTC"}


def _field_of(raw: dict) -> str:
    with pytest.raises(ValidationFailed) as raised:
        parse_policy(raw)
    return raised.value.field


def test_every_tunable_field_of_the_spec_has_one_rule():
    spec_fields = set(ScalingSpec.__dataclass_fields__) - {"schedule_floors", "preset"}
    assert set(TUNABLE_FIELDS) == spec_fields


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_obeys_the_rules(name):
    spec = parse_policy({"preset": name})
    assert spec == PRESETS[name]
    assert spec.preset == name


@pytest.mark.parametrize(("name", "rule"), sorted(FIELD_RULES.items()))
def test_a_value_just_outside_a_bound_is_refused_naming_the_field(name, rule):
    step = 1 if rule.kind is int else 0.001
    # The replica bounds also meet each other's rule; keep the other one out of the way.
    context = {"max_replicas": 1000} if name == "min_replicas" else {"min_replicas": 0}
    for value in (rule.minimum - step, rule.maximum + step):
        assert _field_of(context | {name: value}) == f"scaling.{name}"
    assert parse_policy(context | {name: rule.kind(rule.maximum)}) is not None


@pytest.mark.parametrize(("name", "rule"), sorted(FIELD_RULES.items()))
def test_the_api_schema_takes_its_bounds_from_the_rules(name, rule):
    field = ScalingPolicyInputSerializer().fields[name]
    assert (field.min_value, field.max_value) == (rule.minimum, rule.maximum)
    assert field.allow_null == rule.nullable


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"maxReplicas": 3}, "scaling.maxReplicas"),
        ({"max_replicas": True}, "scaling.max_replicas"),
        ({"max_replicas": 2.5}, "scaling.max_replicas"),
        ({"target_queue_per_replica": None}, "scaling.target_queue_per_replica"),
        ({"preset": "fastest"}, "scaling.preset"),
        ({"min_replicas": 5, "max_replicas": 2}, "scaling.min_replicas"),
        ({"schedule_floors": [FLOOR | {"start": "22:00", "end": "06:00"}]}, None),
        ({"schedule_floors": [FLOOR | {"timezone": "Mars/Olympus"}]}, None),
        ({"schedule_floors": [FLOOR | {"repeat": True}]}, "scaling.schedule_floors[0].repeat"),
        (
            {"max_replicas": 2, "schedule_floors": [FLOOR | {"min_replicas": 3}]},
            "scaling.schedule_floors[0].min_replicas",
        ),
    ],
)
def test_bad_input_names_its_field(raw, field):
    found = _field_of(raw)
    if field is None:
        assert found.startswith("scaling.schedule_floors[0].")
    else:
        assert found == field


def test_a_change_applies_over_the_stored_policy_and_names_only_what_it_changes():
    stored = parse_policy({"preset": "cost", "min_replicas": 0, "max_replicas": 3})
    change = parse_change({"preset": "latency"})
    after = change.apply(stored)
    # A preset sets the triggers and behaviour; the endpoint's bounds stay its own.
    assert (after.min_replicas, after.max_replicas) == (0, 3)
    assert after.polling_interval_s == PRESETS["latency"].polling_interval_s
    assert after.preset == "latency"
    assert parse_change({"max_replicas": 5}).apply(stored).target_queue_per_replica == (
        stored.target_queue_per_replica
    )


def test_the_preset_label_stays_only_while_the_values_are_the_presets():
    stored = parse_policy({"preset": "balanced", "max_replicas": 3})
    assert stored.preset == "balanced"
    assert parse_change({"max_replicas": 6}).apply(stored).preset == "balanced"
    assert parse_change({"target_queue_per_replica": 9}).apply(stored).preset == ""


def test_the_cross_field_rules_hold_when_a_change_meets_the_stored_policy():
    stored = parse_policy({"min_replicas": 2, "max_replicas": 4})
    with pytest.raises(ValidationFailed) as raised:
        parse_change({"max_replicas": 1}).apply(stored)
    assert raised.value.field == "scaling.min_replicas"


def test_a_simulator_policy_file_is_read_by_the_same_parser():
    assert spec_from_dict({"preset": "cost", "max_replicas": 5}) == parse_policy(
        {"preset": "cost", "max_replicas": 5}
    )
    with pytest.raises(PolicyError) as raised:
        spec_from_dict({"scale_up_pods_per_period": 0})
    assert raised.value.field == "scale_up_pods_per_period"
