"""Console forms: they check input and name the field at fault; services and selectors act."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from control_plane.quantities import QuantityError, parse_cpu_millicores, parse_memory_bytes

# Django keeps uploads up to 2.5 MB in memory and spills larger ones to a temporary file; past
# this size a trace holds more requests than a page simulates anyway.
MAX_TRACE_BYTES = 32 * 1024 * 1024


class ScalingComparisonForm(forms.Form):
    SOURCES = (
        ("prometheus", "The endpoint's own traffic, from Prometheus"),
        ("trace", "A trace file (Azure format: TIMESTAMP, ContextTokens, GeneratedTokens)"),
    )

    source = forms.ChoiceField(choices=SOURCES, initial="prometheus", widget=forms.RadioSelect)
    window_hours = forms.IntegerField(
        label="Window (hours, Prometheus)", min_value=1, max_value=7 * 24, initial=24
    )
    trace = forms.FileField(label="Trace file", required=False)
    rate_scale = forms.FloatField(
        label="Rate scale (trace)",
        min_value=0.01,
        max_value=1000,
        initial=1.0,
        help_text="N replays the trace N times faster.",
    )
    slo_ttft_ms = forms.IntegerField(
        label="TTFT SLO (ms)", min_value=1, max_value=600_000, initial=1000
    )
    cold_start = forms.ChoiceField(
        choices=(("cached", "weights cached on the node"), ("uncached", "weights pulled first")),
        initial="cached",
    )

    def clean_trace(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("trace")
        if upload is not None and upload.size > MAX_TRACE_BYTES:
            raise forms.ValidationError(
                f"The file has {upload.size} bytes; at most {MAX_TRACE_BYTES} are accepted. "
                f"Use `manage.py simulate_scaling --trace` for larger traces."
            )
        return upload

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("source") == "trace" and not cleaned.get("trace"):
            self.add_error("trace", "Choose a trace file to compare on.")
        return cleaned


class RolloutStartForm(forms.Form):
    """The console's rollout start: the same settings as the API, validated by the same spec
    (`endpoints.rollouts.spec.rollout_spec`), so a refusal reads the same."""

    model_version = forms.TypedChoiceField(coerce=int, label="Model version")
    strategy = forms.ChoiceField(
        choices=[("canary", "Canary (analysed steps)"), ("direct", "Direct (no analysis)")]
    )
    steps = forms.CharField(
        initial="10,25,50,100", help_text="Percent of traffic per step, ending at 100."
    )
    analysis_interval_s = forms.IntegerField(initial=60, label="Analysis interval (s)")
    bake_s = forms.IntegerField(initial=180, label="Bake time per step (s)")
    warmup_s = forms.IntegerField(initial=120, label="Warm-up after ready (s)")

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].choices = [
            (v.pk, f"{v.name}:{v.version}{' (private)' if v.tenant_id else ''}") for v in versions
        ]

    def clean_steps(self) -> list[int]:
        try:
            return [int(part) for part in self.cleaned_data["steps"].split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("must be whole percentages separated by commas") from None

    def settings(self) -> dict:
        data = self.cleaned_data
        if data["strategy"] == "direct":
            return {"strategy": "direct"}
        return {
            "strategy": "canary",
            "steps": data["steps"],
            "analysis_interval_s": data["analysis_interval_s"],
            "bake_s": data["bake_s"],
            "warmup_s": data["warmup_s"],
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000)


class TenantCreateForm(forms.Form):
    slug = forms.CharField(max_length=63, help_text="DNS label: lowercase letters, digits, '-'.")
    display_name = forms.CharField(max_length=200)


class QuotaForm(forms.Form):
    gpus = forms.IntegerField(min_value=0, label="GPUs")
    max_endpoints = forms.IntegerField(min_value=0, label="Endpoints")
    cpu = forms.CharField(max_length=32, label="CPU", help_text='e.g. "64" or "64000m"')
    memory = forms.CharField(max_length=32, label="Memory", help_text='e.g. "512Gi"')
    mig_slices = forms.CharField(
        required=False,
        label="MIG slices",
        help_text='profile=count, comma-separated, e.g. "3g.40gb=2, 1g.10gb=4"',
    )

    def clean_cpu(self) -> int:
        try:
            return parse_cpu_millicores(self.cleaned_data["cpu"])
        except QuantityError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_memory(self) -> int:
        try:
            return parse_memory_bytes(self.cleaned_data["memory"])
        except QuantityError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_mig_slices(self) -> dict[str, int]:
        slices: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in self.cleaned_data["mig_slices"].split(","))):
            profile, _, count = part.partition("=")
            try:
                slices[profile.strip()] = int(count)
            except ValueError:
                raise forms.ValidationError(f"{part!r} is not profile=count") from None
        return slices


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(
        choices=[("viewer", "viewer"), ("deployer", "deployer"), ("admin", "admin")]
    )


class EndpointCreateForm(forms.Form):
    name = forms.CharField(max_length=55, help_text="DNS label: lowercase letters, digits, '-'.")
    model_version = forms.TypedChoiceField(coerce=int, label="Model version")
    preset = forms.ChoiceField(
        choices=[("balanced", "balanced"), ("latency", "latency"), ("cost", "cost")]
    )
    min_replicas = forms.IntegerField(min_value=0, initial=0, label="Minimum replicas")
    max_replicas = forms.IntegerField(min_value=1, initial=2, label="Maximum replicas")

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].choices = [
            (v.pk, f"{v.name}:{v.version}{' (private)' if v.tenant_id else ''}") for v in versions
        ]


class ScaleForm(forms.Form):
    preset = forms.ChoiceField(
        required=False,
        choices=[
            ("", "keep the current triggers"),
            ("latency", "latency"),
            ("balanced", "balanced"),
            ("cost", "cost"),
        ],
        help_text="A preset sets the triggers and scaling behaviour; the bounds stay yours.",
    )
    min_replicas = forms.IntegerField(min_value=0, label="Minimum replicas")
    max_replicas = forms.IntegerField(min_value=1, label="Maximum replicas")
