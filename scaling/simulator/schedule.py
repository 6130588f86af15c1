"""Schedule floors: the KEDA `cron` triggers rendered from `ScheduleFloor`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scaling.spec import WEEKDAYS, ScheduleFloor


def floor_active(floor: ScheduleFloor, when: datetime) -> bool:
    """Whether `when` (timezone-aware) falls in the floor's window in its own time zone.

    A window whose end is not after its start runs past midnight; it belongs to the day it
    starts on, as a cron trigger with start `M H * * days` and end on the following day would.
    """
    local = when.astimezone(ZoneInfo(floor.timezone))
    clock = local.time().replace(tzinfo=None)
    today = WEEKDAYS[local.weekday()]
    if floor.start < floor.end:
        return today in floor.days and floor.start <= clock < floor.end
    yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
    return (today in floor.days and clock >= floor.start) or (
        yesterday in floor.days and clock < floor.end
    )


def floor_replicas(floors: Iterable[ScheduleFloor], when: datetime) -> int:
    """The highest `min_replicas` among active floors (0 when none is active)."""
    return max((f.min_replicas for f in floors if floor_active(f, when)), default=0)
