"""Kubernetes resource quantities for CPU and memory.

Only the forms people write for requests and quotas are accepted: CPU as cores ("8", "0.5") or
millicores ("500m"); memory as bytes with a binary ("Gi") or decimal ("G") suffix.
See https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
_CPU = re.compile(r"^(\d+(?:\.\d{1,3})?)(m)?$")


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
        return int(number)
    return int(Decimal(number) * 1000)


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
    return int(amount)


def format_cpu(millicores: int) -> str:
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(num_bytes: int) -> str:
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if num_bytes and num_bytes % unit == 0:
            return f"{num_bytes // unit}{suffix}"
    return str(num_bytes)
