"""The canary gate: one analysis window of two revisions in, one verdict out.

Six tests, each an e-process (`scaling.analysis.sequential`) carried from window to window:
- against the stable revision, on the same request mix (the HTTPRoute splits at random): the
  canary's odds of a slow first token, of a slow per-request time per output token, and of a
  server error, each no more than `tolerated_odds_ratio` times the stable's. "Slow" is above the
  bucket bound nearest the pooled median of the window, which both sides share, so the split
  carries no information about which side a request came from;
- absolute SLOs for the canary alone: TTFT p95 and TPOT p95 within their SLOs (at most 5 % of
  requests above the SLO's bucket bound) and the error ratio within its bound.

A check fails as soon as one e-value reaches (number of tests) / α: a Bonferroni split keeps the
chance that a healthy canary *ever* fails below α over the whole rollout, however many checks it
takes. A window with too few requests on either side, or no answer from Prometheus, is
inconclusive and adds nothing: missing data is never a pass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from scaling.analysis.histograms import Histogram, median_split
from scaling.analysis.sequential import Evidence, binomial_log_lr, odds_ratio_log_lr

# Alternatives each mixture weighs equally, as multiples of the null's odds ratio or share.
ODDS_RATIO_ALTERNATIVES = (2.0, 4.0, 8.0, 16.0)
SHARE_ALTERNATIVES = (2.0, 4.0, 8.0)
# A p95 within its SLO means at most this share of requests above it.
SLO_QUANTILE_SHARE = 0.05


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Gates:
    """What a canary must show. Defaults a platform team can start from
    (docs/decisions/0009-canary-analysis.md); None turns an absolute SLO off."""

    ttft_p95_slo_s: float | None = 2.5
    tpot_p95_slo_s: float | None = 0.1
    max_error_ratio: float | None = 0.01
    tolerated_odds_ratio: float = 1.5
    alpha: float = 0.05
    min_requests: int = 20

    @property
    def tests(self) -> tuple[str, ...]:
        names = ["ttft_vs_stable", "tpot_vs_stable", "errors_vs_stable"]
        if self.ttft_p95_slo_s is not None:
            names.append("ttft_slo")
        if self.tpot_p95_slo_s is not None:
            names.append("tpot_slo")
        if self.max_error_ratio is not None:
            names.append("error_slo")
        return tuple(names)

    @property
    def threshold(self) -> float:
        return len(self.tests) / self.alpha


@dataclass(frozen=True)
class Side:
    """One revision over one window: responses and server errors of the completion routes, and
    the histograms of time to first token and of time per output token per request."""

    requests: int
    errors: int
    ttft: Histogram = field(default_factory=Histogram.empty)
    tpot: Histogram = field(default_factory=Histogram.empty)

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_ratio": self.errors / self.requests if self.requests else None,
            "ttft_p95_s": self.ttft.quantile(0.95),
            "tpot_p95_s": self.tpot.quantile(0.95),
        }


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    reason: str
    # Every test's evidence after this window (as before it when inconclusive).
    evidence: dict[str, Evidence]
    # Per test: what was counted on each side, this window's log likelihood ratio, the e-value.
    statistics: dict[str, dict]


def _fresh(name: str) -> Evidence:
    alternatives = ODDS_RATIO_ALTERNATIVES if name.endswith("_vs_stable") else SHARE_ALTERNATIVES
    return Evidence.start(len(alternatives))


def start_evidence(gates: Gates) -> dict[str, Evidence]:
    return {name: _fresh(name) for name in gates.tests}


def _comparison(
    canary_bad: int, canary: int, stable_bad: int, stable: int, psi0: float
) -> list[float]:
    return [
        odds_ratio_log_lr(
            canary_bad=canary_bad,
            canary=canary,
            stable_bad=stable_bad,
            stable=stable,
            psi0=psi0,
            psi1=psi0 * r,
        )
        for r in ODDS_RATIO_ALTERNATIVES
    ]


def _share(bad: int, total: int, p0: float) -> list[float]:
    return [
        binomial_log_lr(bad=bad, total=total, p0=p0, p1=min(p0 * r, (1 + p0) / 2))
        for r in SHARE_ALTERNATIVES
    ]


def _counts(gates: Gates, canary: Side, stable: Side) -> dict[str, dict]:
    """Per test: the bound that makes a request "bad", and bad/total per side."""
    counts: dict[str, dict] = {}
    for name, attr in (("ttft", "ttft"), ("tpot", "tpot")):
        c, s = getattr(canary, attr), getattr(stable, attr)
        bound = median_split(c, s)
        counts[f"{name}_vs_stable"] = {
            "above_s": bound,
            "canary": [c.above(bound) if bound is not None else 0, c.total],
            "stable": [s.above(bound) if bound is not None else 0, s.total],
        }
    counts["errors_vs_stable"] = {
        "canary": [canary.errors, canary.requests],
        "stable": [stable.errors, stable.requests],
    }
    for name, attr, slo in (
        ("ttft_slo", "ttft", gates.ttft_p95_slo_s),
        ("tpot_slo", "tpot", gates.tpot_p95_slo_s),
    ):
        if slo is not None:
            histogram = getattr(canary, attr)
            bound = histogram.slo_bound(slo) if histogram.total else slo
            counts[name] = {
                "above_s": bound,
                "canary": [histogram.above(bound), histogram.total],
                "share_at_most": SLO_QUANTILE_SHARE,
            }
    if gates.max_error_ratio is not None:
        counts["error_slo"] = {
            "canary": [canary.errors, canary.requests],
            "share_at_most": gates.max_error_ratio,
        }
    return counts


def _log_lrs(name: str, count: dict, gates: Gates) -> list[float]:
    if name.endswith("_vs_stable"):
        (canary_bad, canary), (stable_bad, stable) = count["canary"], count["stable"]
        return _comparison(canary_bad, canary, stable_bad, stable, gates.tolerated_odds_ratio)
    bad, total = count["canary"]
    return _share(bad, total, count["share_at_most"])


_DESCRIPTIONS = {
    "ttft_vs_stable": "time to first token worse than the stable revision's",
    "tpot_vs_stable": "time per output token worse than the stable revision's",
    "errors_vs_stable": "more server errors than the stable revision",
    "ttft_slo": "TTFT p95 above its SLO",
    "tpot_slo": "TPOT p95 above its SLO",
    "error_slo": "error ratio above its bound",
}


def _describe_failure(name: str, count: dict, e_value: float, threshold: float) -> str:
    canary_bad, canary = count["canary"]
    what = "errors" if name.startswith("error") else f"above {count['above_s']:g} s"
    text = f"{_DESCRIPTIONS[name]}: canary {canary_bad} of {canary} {what}"
    if "stable" in count:
        stable_bad, stable = count["stable"]
        text += f", stable {stable_bad} of {stable}"
    return text + f" this window; e-value {e_value:.3g} reached {threshold:g}"


def evaluate(
    *,
    gates: Gates,
    evidence: dict[str, Evidence],
    canary: Side | None,
    stable: Side | None,
    unavailable: str = "",
) -> Result:
    """The verdict of one window. `unavailable` says why there is no data (Prometheus down)."""
    if unavailable or canary is None or stable is None:
        return Result(Verdict.INCONCLUSIVE, unavailable or "no data", evidence, {})
    if canary.requests < gates.min_requests or stable.requests < gates.min_requests:
        return Result(
            Verdict.INCONCLUSIVE,
            f"too few requests: canary {canary.requests}, stable {stable.requests}; "
            f"each side needs {gates.min_requests}",
            evidence,
            {},
        )
    counts = _counts(gates, canary, stable)
    updated, statistics, failures = dict(evidence), {}, []
    for name in gates.tests:
        log_lrs = _log_lrs(name, counts[name], gates)
        updated[name] = (evidence.get(name) or _fresh(name)).add(log_lrs)
        e_value = updated[name].e_value
        statistics[name] = {
            **counts[name],
            "log_lr": [round(v, 6) for v in log_lrs],
            "e_value": e_value,
            "threshold": gates.threshold,
        }
        if e_value >= gates.threshold:
            failures.append(_describe_failure(name, counts[name], e_value, gates.threshold))
    if failures:
        return Result(Verdict.FAIL, "; ".join(failures), updated, statistics)
    strongest = max(statistics, key=lambda n: statistics[n]["e_value"])
    reason = (
        f"{canary.requests} canary and {stable.requests} stable requests; strongest evidence "
        f"of a regression {strongest} e-value {statistics[strongest]['e_value']:.3g} "
        f"< {gates.threshold:g}"
    )
    return Result(Verdict.PASS, reason, updated, statistics)
