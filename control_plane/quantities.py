"""Kubernetes resource quantities for CPU and memory.

Only the forms people write for requests and quotas are accepted: CPU as cores ("8", "0.5") or
millicores ("500m"); memory as bytes with a binary ("Gi") or decimal ("G") suffix.
See https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
MEMORY_PATTERN = r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
_MEMORY = re.compile(MEMORY_PATTERN)
# The largest amount a column holds (PostgreSQL bigint): beyond it a quantity is refused with
# this bound named, not stored as an overflow.
MAX_AMOUNT = 2**63 - 1
CPU_PATTERN = r"^(\d+(?:\.\d{1,3})?)(m)?$"
_CPU = re.compile(CPU_PATTERN)


class QuantityError(ValueError):
    pass


def parse_cpu_millicores(value: str | int) -> int:
    text = str(value).strip()
    match = _CPU.match(text)
    if not match:
        raise QuantityError(f"{text!r} is not a CPU quantity (e.g. '8', '0.5' or '500m')")
    number, milli = match.groups()
    if milli:
        if "." in number:
            raise QuantityError(f"{text!r}: millicores must be a whole number")
        return _bounded(text, int(number))
    return _bounded(text, int(Decimal(number) * 1000))


def parse_memory_bytes(value: str | int) -> int:
    text = str(value).strip()
    match = _MEMORY.match(text)
    if not match:
        raise QuantityError(f"{text!r} is not a memory quantity (e.g. '64Gi', '512Mi' or '1G')")
    number, suffix = match.groups()
    try:
        amount = Decimal(number) * (_BINARY.get(suffix) or _DECIMAL.get(suffix) or 1)
    except InvalidOperation:
        raise QuantityError(f"{text!r} is not a memory quantity") from None
    if amount != amount.to_integral_value():
        raise QuantityError(f"{text!r} is not a whole number of bytes")
    return _bounded(text, int(amount))


def _bounded(text: str, amount: int) -> int:
    if amount > MAX_AMOUNT:
        raise QuantityError(f"{text!r} is more than the largest amount stored ({MAX_AMOUNT})")
    return amount


def format_cpu(millicores: int) -> str:
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(num_bytes: int) -> str:
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if num_bytes and num_bytes % unit == 0:
            return f"{num_bytes // unit}{suffix}"
    return str(num_bytes)
