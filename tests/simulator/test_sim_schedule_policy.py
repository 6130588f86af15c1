"""Schedule floors in their time zones, and policies read from JSON."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from scaling.simulator.policy_json import PolicyError, spec_from_json
from scaling.simulator.schedule import floor_active, floor_replicas
from scaling.spec import ScheduleFloor

WORKDAY = ScheduleFloor(("mon", "tue", "wed", "thu", "fri"), time(8), time(18), "Europe/Berlin", 2)
NIGHT = ScheduleFloor(("fri",), time(22), time(2), "UTC", 1)


def test_floor_applies_in_its_own_time_zone():
    assert floor_active(WORKDAY, datetime(2024, 1, 1, 7, 30, tzinfo=UTC))  # 08:30 in Berlin
    assert not floor_active(WORKDAY, datetime(2024, 1, 1, 17, 30, tzinfo=UTC))  # 18:30
    assert not floor_active(WORKDAY, datetime(2024, 1, 6, 10, 0, tzinfo=UTC))  # Saturday


def test_floor_window_past_midnight_belongs_to_its_start_day():
    assert floor_active(NIGHT, datetime(2024, 1, 5, 23, 0, tzinfo=UTC))  # Friday night
    assert floor_active(NIGHT, datetime(2024, 1, 6, 1, 0, tzinfo=UTC))  # early Saturday
    assert not floor_active(NIGHT, datetime(2024, 1, 6, 23, 0, tzinfo=UTC))


def test_highest_active_floor_wins():
    when = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert floor_replicas([WORKDAY, NIGHT], when) == 2
    assert floor_replicas([], when) == 0


def test_policy_json_builds_a_spec_with_floors():
    spec = spec_from_json(
        '{"min_replicas": 1, "max_replicas": 6, "target_queue_per_replica": 3,'
        ' "schedule_floors": [{"days": ["mon"], "start": "08:00", "end": "18:00",'
        ' "timezone": "Europe/Berlin", "min_replicas": 2}]}'
    )
    assert spec.max_replicas == 6
    assert spec.target_queue_per_replica == 3.0
    assert spec.schedule_floors[0].start == time(8)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"max_replicas": "many"}', "max_replicas"),
        ('{"target_queue": 3}', "target_queue"),
        ('{"target_queue_per_replica": 0}', "target_queue_per_replica"),
        ('{"min_replicas": 5, "max_replicas": 2}', "min_replicas"),
        ('{"schedule_floors": [{"days": ["monday"]}]}', "schedule_floors[0].days"),
        (
            '{"schedule_floors": [{"days": ["mon"], "start": "8", "end": "18:00",'
            ' "timezone": "UTC"}]}',
            "schedule_floors[0].start",
        ),
        ("[1]", "policy"),
    ],
)
def test_policy_json_errors_name_the_field(text, field):
    with pytest.raises(PolicyError) as error:
        spec_from_json(text)
    assert error.value.field == field
