"""Status conditions in the Kubernetes style: type, status, reason, message and the time the
status last changed. Stored as a list of dicts on the object they describe."""

from __future__ import annotations

from django.utils import timezone

CONDITION_TYPES = ("Ready", "Progressing", "Degraded")


def set_condition(
    conditions: list[dict], type_: str, status: bool, reason: str, message: str = ""
) -> tuple[list[dict], bool]:
    """The conditions with `type_` set; True when its status or reason changed.

    `last_transition_time` moves only when the status flips, as in Kubernetes, so a condition
    that stays false for an hour says since when.
    """
    value = "True" if status else "False"
    updated, changed, found = [], False, False
    for condition in conditions:
        if condition["type"] != type_:
            updated.append(condition)
            continue
        found = True
        changed = condition["status"] != value or condition["reason"] != reason
        transition = (
            condition["last_transition_time"]
            if condition["status"] == value
            else timezone.now().isoformat()
        )
        updated.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message,
                "last_transition_time": transition,
            }
        )
    if not found:
        changed = True
        updated.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message,
                "last_transition_time": timezone.now().isoformat(),
            }
        )
    order = {name: index for index, name in enumerate(CONDITION_TYPES)}
    updated.sort(key=lambda c: order.get(c["type"], len(order)))
    return updated, changed


def condition(conditions: list[dict], type_: str) -> dict | None:
    return next((c for c in conditions if c["type"] == type_), None)
