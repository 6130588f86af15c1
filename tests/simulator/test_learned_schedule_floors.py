"""Schedule floors learned from an endpoint's history: a floor at the hours where a replayed
preset met a cold start, in the format the API takes, and none where it never did."""

from __future__ import annotations

from datetime import UTC, datetime, time

from scaling.comparison import compare
from scaling.policy import parse_policy
from scaling.presets import preset
from scaling.recommendation import (
    FLOORED,
    cold_start_hours,
    floors_for_hours,
    recommend,
)
from scaling.simulator.engine import SimConfig
from scaling.simulator.trace import Request, Trace
from scaling.spec import ScheduleFloor
from tests.simulator.conftest import steady_trace

MONDAY_8 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def daily_burst(days: int, *, start: datetime = MONDAY_8, at_s: float = 3600.0) -> Trace:
    """Nothing but a 2-minute burst at 09:00 every day, 12 requests/s of 2000 + 200 tokens
    (about two replicas' worth)."""
    requests = [
        Request(day * 86_400 + at_s + i / 12, 2000, 200) for day in range(days) for i in range(1440)
    ]
    return Trace(requests, start)


def test_a_daily_burst_from_zero_gets_a_floor_at_its_hour_that_improves_attainment():
    trace = daily_burst(2)
    cost = preset("cost", max_replicas=8)
    plain = compare(trace, {"cost": cost}, SimConfig())
    hours = cold_start_hours(trace, plain.outcomes[0].result, plain.oracle, max_replicas=8)
    assert set(hours) == {(0, 9), (1, 9)}
    floors = floors_for_hours(hours)
    need = max(plain.oracle.replicas)
    assert floors == (ScheduleFloor(("mon", "tue"), time(8, 55), time(10, 0), "UTC", need),)
    floored = compare(
        trace,
        {"floored": cost.with_changes(schedule_floors=floors)},
        SimConfig(),
        oracle=plain.oracle,
    )
    before = plain.outcomes[0].result
    after = floored.outcomes[0].result
    assert after.slo_attainment_servable > before.slo_attainment_servable + 0.2
    assert after.cold_start_waiters < before.cold_start_waiters


def test_a_flat_history_proposes_no_floor():
    chosen = recommend(steady_trace(2.0, 900), max_replicas=4, goal=0.99, config=SimConfig())
    assert chosen.learned_floors == {}
    assert not any(o.name.endswith(FLOORED) for o in chosen.comparison.outcomes)
    assert chosen.patch_body()["scaling"]["schedule_floors"] == []


def test_floored_candidates_join_the_search_and_can_be_chosen():
    trace = daily_burst(1, start=datetime(2024, 1, 1, 8, 30, tzinfo=UTC), at_s=1800.0)
    chosen = recommend(trace, max_replicas=8, goal=0.99, config=SimConfig())
    names = {o.name for o in chosen.comparison.outcomes}
    assert {f"cost{FLOORED}", f"balanced{FLOORED}"} <= names
    assert chosen.name.endswith(FLOORED), chosen.reason()
    assert chosen.floor_lines()[0].endswith("at least 2 on mon 08:55-10:00 UTC")
    body = chosen.patch_body()["scaling"]
    assert parse_policy(body).as_json()["schedule_floors"] == body["schedule_floors"]


def test_floors_split_at_midnight_merge_equal_days_and_keep_levels_apart():
    hours = {(0, 0): 2, (0, 23): 2, (2, 23): 2, (1, 5): 3, (1, 6): 4}
    floors = floors_for_hours(hours)
    assert [(f.days, f.start, f.end, f.min_replicas) for f in floors] == [
        (("mon",), time(0, 0), time(1, 0), 2),
        (("tue",), time(4, 55), time(6, 0), 3),
        (("tue",), time(5, 55), time(7, 0), 4),
        (("mon", "wed"), time(22, 55), time(23, 59), 2),
    ]
    # Every learned floor is one the API accepts as is.
    raw = {"max_replicas": 8, "schedule_floors": [f.as_json() for f in floors]}
    assert len(parse_policy(raw).schedule_floors) == 4


def test_a_recommendation_learned_on_one_weeks_bursts_holds_on_the_next_weeks():
    """Chosen on Monday to Wednesday's history, replayed on the next Monday to Wednesday, whose
    bursts come at the same hour but are not the same requests."""
    history = daily_burst(3)
    chosen = recommend(history, max_replicas=8, goal=0.99, config=SimConfig())
    assert chosen.meets_goal, chosen.reason()
    assert chosen.name.endswith(FLOORED), chosen.reason()

    next_week = Trace(
        [
            Request(day * 86_400 + 3600.0 + 17 + i / 13, 1800, 220)
            for day in range(3)
            for i in range(1500)
        ],
        datetime(2024, 1, 8, 8, 0, tzinfo=UTC),
    )
    base = chosen.name.removesuffix(FLOORED)
    future = compare(
        next_week,
        {"chosen": chosen.spec, base: preset(base, max_replicas=8)},
        SimConfig(seed=1),
    )
    attainment = {o.name: o.result.slo_attainment_servable for o in future.outcomes}
    assert attainment["chosen"] >= 0.99
    assert attainment[base] < 0.99
