"""The simulate_scaling management command (no database)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

KEYS = {
    "gpu_hours",
    "oracle_gpu_hours",
    "slo_attainment",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "cold_starts",
    "requests",
    "dropped",
}


@pytest.fixture
def trace_file(tmp_path):
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(600):
        lines.append(f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,{300 + i % 7},{20}")
    path = tmp_path / "small.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_output_has_the_documented_keys(trace_file, tmp_path):
    out = StringIO()
    plot = tmp_path / "plot.png"
    call_command(
        "simulate_scaling",
        "--trace",
        str(trace_file),
        "--policy",
        "latency",
        "--rate-scale",
        "4",
        "--slo-ttft-ms",
        "1000",
        "--plot",
        str(plot),
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data.keys() >= KEYS
    assert data["requests"] == 600
    assert 0 < data["oracle_gpu_hours"] <= data["gpu_hours"]
    assert plot.stat().st_size < 150_000


def test_json_policy_and_overlay_and_table_output(trace_file):
    out = StringIO()
    call_command(
        "simulate_scaling",
        "--trace",
        str(trace_file),
        "--policy",
        '{"min_replicas": 1, "max_replicas": 3, "target_queue_per_replica": 2}',
        "--overlay",
        "2",
        "--overlay-shift-s",
        "5",
        "--seed",
        "3",
        stdout=out,
    )
    text = out.getvalue()
    assert "slo_attainment" in text
    assert "1200" in text  # two copies of 600 requests


def test_invalid_policy_field_is_named(trace_file):
    with pytest.raises(CommandError, match="max_replicas"):
        call_command(
            "simulate_scaling", "--trace", str(trace_file), "--policy", '{"max_replicas": -2}'
        )


def test_unknown_preset_lists_the_presets(trace_file):
    with pytest.raises(CommandError, match="latency"):
        call_command("simulate_scaling", "--trace", str(trace_file), "--policy", "fastest")


def test_a_trace_needs_a_policy(trace_file):
    with pytest.raises(CommandError, match="--policy is required"):
        call_command("simulate_scaling", "--trace", str(trace_file))


def test_compare_prints_the_policy_every_other_preset_and_the_oracle(trace_file):
    out = StringIO()
    call_command(
        "simulate_scaling",
        "--trace",
        str(trace_file),
        "--policy",
        '{"min_replicas": 0, "max_replicas": 3, "target_queue_per_replica": 7}',
        "--rate-scale",
        "4",
        "--compare",
        stdout=out,
    )
    rows = out.getvalue().splitlines()[2:]
    assert [row.split()[0] for row in rows[1:]] == ["latency", "balanced", "cost", "oracle"]
    assert rows[0].split()[0] == "custom"


def test_compare_json_lists_one_entry_per_policy_with_the_oracle_once(trace_file):
    out = StringIO()
    call_command(
        "simulate_scaling",
        "--trace",
        str(trace_file),
        "--policy",
        "cost",
        "--rate-scale",
        "4",
        "--compare",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert [p["policy"] for p in data["policies"]] == ["cost", "latency", "balanced"]
    assert all(p.keys() >= KEYS for p in data["policies"])
    assert all(p["oracle_gpu_hours"] == data["oracle_gpu_hours"] for p in data["policies"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--endpoint", "acme"], "expected TENANT/NAME"),
        (["--endpoint", "acme/nope"], "no such endpoint"),
        (["--endpoint", "acme/chat", "--since", "yesterday"], "positive duration"),
        (["--endpoint", "acme/chat", "--until", "soon"], "ISO 8601"),
        (["--endpoint", "acme/chat", "--rate-scale", "2"], "apply to --trace only"),
        (["--endpoint", "acme/chat"], "PROMETHEUS_URL is empty"),
    ],
)
def test_endpoint_source_errors_say_what_is_wrong(arguments, message, settings):
    from tests.world import build_world

    build_world()
    settings.PROMETHEUS_URL = ""
    with pytest.raises(CommandError, match=message):
        call_command("simulate_scaling", *arguments)
