"""`GET .../endpoints/<name>/scaling-recommendation/`: the recommendation of
`manage.py recommend_scaling`, on the endpoint's own traffic from Prometheus, read-only.
Applying it is the endpoint's ordinary PATCH with the `patch` body it answers."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.errors import Conflict, Unavailable, ValidationFailed
from endpoints.selectors import endpoint_for
from scaling.api.serializers import PolicyOutcomeSerializer, ScalingPolicyInputSerializer
from scaling.comparison import TooManyRequests
from scaling.recommendation import (
    MAX_RECOMMENDATION_REQUESTS,
    MAX_RECOMMENDATION_WINDOW,
    EndpointRecommendation,
    parse_since,
    recommend_for_endpoint,
)
from scaling.telemetry import NoRequestsObserved, TelemetryUnavailable
from tenants.api.mixins import TenantScopedMixin


class RecommendationQuerySerializer(serializers.Serializer):
    since = serializers.CharField(
        default="7d",
        max_length=16,
        help_text="History to replay up to now, e.g. 90m, 24h, 7d; at most "
        f"{MAX_RECOMMENDATION_WINDOW.days} days are replayed (the answer's `notes` say so).",
    )
    slo_ttft_ms = serializers.IntegerField(min_value=1, max_value=600_000, default=1000)
    goal = serializers.FloatField(
        min_value=0.01,
        max_value=1,
        default=0.99,
        help_text="Share of servable requests within the TTFT SLO the policy must reach.",
    )

    def validate_since(self, value: str):
        try:
            return parse_since(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class LearnedFloorSerializer(serializers.Serializer):
    preset = serializers.CharField(help_text="The preset whose replay met a cold start here.")
    days = serializers.ListField(child=serializers.CharField())
    start = serializers.CharField()
    end = serializers.CharField()
    timezone = serializers.CharField()
    min_replicas = serializers.IntegerField()


class SeedAttainmentSerializer(serializers.Serializer):
    seed = serializers.IntegerField()
    slo_attainment_servable = serializers.FloatField()


class ConfirmationSerializer(serializers.Serializer):
    policy = serializers.CharField()
    held = serializers.BooleanField(help_text="Whether its mean over the seeds met the goal.")
    seeds = SeedAttainmentSerializer(
        many=True,
        help_text="The first replay's seed, then more, until the mean could no longer reach "
        "the goal.",
    )


class RecommendationChoiceSerializer(serializers.Serializer):
    policy = serializers.CharField()
    meets_goal = serializers.BooleanField(
        help_text="It met the goal on average over the replay and the confirmation seeds."
    )
    reason = serializers.CharField()
    confirmations = ConfirmationSerializer(
        many=True,
        help_text="Candidates that met the goal on the replay, replayed on more simulation "
        "seeds cheapest first, up to the first whose mean held.",
    )


class RecommendationPatchSerializer(serializers.Serializer):
    scaling = ScalingPolicyInputSerializer()


class ScalingRecommendationSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    requests = serializers.IntegerField(help_text="Requests in the replay.")
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="What was cut to bound the work, if anything."
    )
    slo_ttft_ms = serializers.IntegerField()
    goal = serializers.FloatField()
    oracle_gpu_hours = serializers.FloatField()
    cold_start_bound_gpu_hours = serializers.FloatField()
    policies = PolicyOutcomeSerializer(many=True, help_text="Every candidate replayed.")
    learned_floors = LearnedFloorSerializer(many=True)
    choice = RecommendationChoiceSerializer()
    patch = RecommendationPatchSerializer(
        help_text="The body of PATCH /api/v1/tenants/{slug}/endpoints/{name}/ that applies it."
    )
    command = serializers.CharField(help_text="The command that reproduces these figures.")


def recommendation_body(result: EndpointRecommendation, *, slo_ttft_ms: int) -> dict:
    """The answer's fields, shared by the API and the console."""
    chosen = result.recommendation
    summary = chosen.comparison.summary()
    return {
        "start": result.start,
        "end": result.end,
        "requests": result.requests,
        "notes": result.notes(),
        "slo_ttft_ms": slo_ttft_ms,
        "goal": chosen.goal,
        "oracle_gpu_hours": summary["oracle_gpu_hours"],
        "cold_start_bound_gpu_hours": summary["cold_start_bound_gpu_hours"],
        "policies": summary["policies"],
        "learned_floors": [
            {"preset": name, **floor.as_json()}
            for name, floors in chosen.learned_floors.items()
            for floor in floors
        ],
        "choice": {
            "policy": chosen.name,
            "meets_goal": chosen.meets_goal,
            "reason": chosen.reason(),
            "confirmations": [
                {
                    "policy": c.name,
                    "held": c.held,
                    "seeds": [
                        {"seed": seed, "slo_attainment_servable": round(a, 5)}
                        for seed, a in c.attainment_by_seed
                    ],
                }
                for c in chosen.confirmations
            ],
        },
        "patch": chosen.patch_body(),
        "command": result.command,
    }


def recommendation_for(endpoint, *, since, slo_ttft_ms: int, goal: float, field: str = "since"):
    """The recommendation, with Prometheus and size refusals as the API's errors (503, 409,
    400 on `field`)."""
    try:
        return recommend_for_endpoint(
            endpoint,
            since=since,
            slo_ttft_ms=float(slo_ttft_ms),
            goal=goal,
            end=timezone.now(),
            max_window=MAX_RECOMMENDATION_WINDOW,
            max_requests=MAX_RECOMMENDATION_REQUESTS,
        )
    except TelemetryUnavailable as exc:
        raise Unavailable(f"Cannot read the endpoint's traffic: {exc}") from exc
    except NoRequestsObserved as exc:
        raise Conflict(str(exc)) from exc
    except TooManyRequests as exc:
        raise ValidationFailed(
            f"{exc} Choose a shorter window, or run `manage.py recommend_scaling --endpoint "
            f"{endpoint.tenant.slug}/{endpoint.name}`.",
            field=field,
        ) from exc
    except ValueError as exc:  # a window too short for two steps of the rate series
        raise ValidationFailed(str(exc), field=field) from exc


class ScalingRecommendationView(TenantScopedMixin, GenericAPIView):
    serializer_class = ScalingRecommendationSerializer

    @extend_schema(
        parameters=[RecommendationQuerySerializer],
        responses={
            200: ScalingRecommendationSerializer,
            409: OpenApiResponse(description="No request finished in the window."),
            503: OpenApiResponse(description="No Prometheus is configured, or it did not answer."),
        },
        description="Every preset, a few neighbours and the presets with schedule floors learned "
        "from the hours where they met a cold start, replayed in the autoscaling simulator on "
        "the endpoint's own traffic at its maximum; the cheapest meeting the goal is chosen. "
        f"Bounded: at most {MAX_RECOMMENDATION_WINDOW.days} days (the answer's `notes` say when "
        f"`since` was cut) and about {MAX_RECOMMENDATION_REQUESTS} requests (400 beyond).",
    )
    def get(self, request: Request, slug: str, name: str) -> Response:
        endpoint = endpoint_for(tenant=self.tenant, name=name)
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        result = recommendation_for(
            endpoint, since=data["since"], slo_ttft_ms=data["slo_ttft_ms"], goal=data["goal"]
        )
        body = recommendation_body(result, slo_ttft_ms=data["slo_ttft_ms"])
        return Response(ScalingRecommendationSerializer(body).data)
