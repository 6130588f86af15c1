{{/* Names and labels. */}}
{{- define "cp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "cp.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "cp.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-control-plane
{{- end -}}

{{- define "cp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cp.image" -}}
{{- $repository := .Values.image.repository -}}
{{- if .Values.image.registry -}}{{- $repository = printf "%s/%s" .Values.image.registry $repository -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret a credential comes from: its existing Secret, or the chart's own. */}}
{{- define "cp.secretRef" -}}
{{- $credential := index .root.Values .name -}}
{{- if $credential.existingSecret.name -}}
name: {{ $credential.existingSecret.name }}
key: {{ $credential.existingSecret.key }}
{{- else -}}
name: {{ include "cp.fullname" .root }}{{ .suffix }}
key: {{ .key }}
{{- end -}}
{{- end -}}

{{- define "cp.hasCredential" -}}
{{- $credential := index .root.Values .name -}}
{{- if or $credential.value $credential.url $credential.existingSecret.name -}}true{{- end -}}
{{- end -}}

{{/* Fail early, naming the value to set: a missing credential, a queue nobody consumes. */}}
{{- define "cp.validate" -}}
{{- if not (include "cp.hasCredential" (dict "root" . "name" "database")) -}}
{{- fail "database: set database.url or database.existingSecret.name (PostgreSQL URL)" -}}
{{- end -}}
{{- if not (include "cp.hasCredential" (dict "root" . "name" "redis")) -}}
{{- fail "redis: set redis.url or redis.existingSecret.name (Redis URL for the Celery broker)" -}}
{{- end -}}
{{- if not (include "cp.hasCredential" (dict "root" . "name" "secretKey")) -}}
{{- fail "secretKey: set secretKey.value or secretKey.existingSecret.name (Django SECRET_KEY)" -}}
{{- end -}}
{{- if not (include "cp.hasCredential" (dict "root" . "name" "auditSigningKey")) -}}
{{- fail "auditSigningKey: set auditSigningKey.existingSecret.name or auditSigningKey.value (Ed25519 private key, PEM: openssl genpkey -algorithm ed25519); every pod must sign with the same key" -}}
{{- end -}}
{{- $consumed := list -}}
{{- range .Values.workers -}}{{- $consumed = concat $consumed .queues -}}{{- end -}}
{{- range list "celery" "provisioning" "analysis" -}}
{{- if not (has . $consumed) -}}
{{- fail (printf "workers: no worker consumes the %s queue; add it to some worker's queues" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Secrets as files (every setting accepts a <NAME>_FILE twin, control_plane/env.py). */}}
{{- define "cp.secretsVolume" -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      {{- range $credential := list (list "database" "database-url") (list "redis" "redis-url") (list "secretKey" "secret-key") (list "auditSigningKey" "audit-signing-key") }}
      {{- if include "cp.hasCredential" (dict "root" $.root "name" (index $credential 0)) }}
      {{- $ref := include "cp.secretRef" (dict "root" $.root "suffix" $.suffix "name" (index $credential 0) "key" (index $credential 1)) | fromYaml }}
      - secret:
          name: {{ $ref.name }}
          items:
            - key: {{ $ref.key }}
              path: {{ index $credential 1 }}
      {{- end }}
      {{- end }}
{{- end -}}

{{- define "cp.secretEnv" -}}
- name: DATABASE_URL_FILE
  value: /var/run/secrets/llm-control-plane/database-url
- name: CELERY_BROKER_URL_FILE
  value: /var/run/secrets/llm-control-plane/redis-url
- name: CACHE_URL_FILE
  value: /var/run/secrets/llm-control-plane/redis-url
- name: SECRET_KEY_FILE
  value: /var/run/secrets/llm-control-plane/secret-key
{{- if include "cp.hasCredential" (dict "root" . "name" "auditSigningKey") }}
- name: AUDIT_SIGNING_KEY_FILE
  value: /var/run/secrets/llm-control-plane/audit-signing-key
{{- end }}
{{- end -}}

{{/* What every container of the chart shares: image, settings, secrets, a restricted
securityContext, a writable /tmp and the metrics directory. Called with (dict "root" .
"suffix" ""): the migration hook passes "-migrate" for its own ConfigMap and Secret copies. */}}
{{- define "cp.containerCommon" -}}
image: {{ include "cp.image" .root }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
envFrom:
  - configMapRef:
      name: {{ include "cp.fullname" .root }}{{ .suffix }}
env:
  {{- include "cp.secretEnv" .root | nindent 2 }}
  {{- range $name, $value := .env }}
  - name: {{ $name }}
    value: {{ $value | quote }}
  {{- end }}
  {{- range $name, $ref := .root.Values.config.extraSecretEnv }}
  - name: {{ $name }}
    valueFrom:
      secretKeyRef:
        name: {{ $ref.name }}
        key: {{ $ref.key }}
  {{- end }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: [ALL]
  seccompProfile:
    type: RuntimeDefault
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: prometheus
    mountPath: /run/prometheus
  - name: secrets
    mountPath: /var/run/secrets/llm-control-plane
    readOnly: true
  - name: audit-checkpoints
    mountPath: {{ .root.Values.auditCheckpoints.mountPath }}
{{- end -}}

{{- define "cp.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
  - name: prometheus
    emptyDir:
      sizeLimit: 64Mi
  - name: audit-checkpoints
    {{- if .root.Values.auditCheckpoints.existingClaim }}
    persistentVolumeClaim:
      claimName: {{ .root.Values.auditCheckpoints.existingClaim }}
    {{- else }}
    emptyDir:
      sizeLimit: 256Mi
    {{- end }}
  {{- include "cp.secretsVolume" . | nindent 2 }}
{{- end -}}

{{- define "cp.topologySpread" -}}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range (list .root.Values.topologySpread.zoneKey .root.Values.topologySpread.hostKey) }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "cp.selectorLabels" $.root | nindent 8 }}
        app.kubernetes.io/component: {{ $.component }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "cp.allowedHosts" -}}
{{- $hosts := .Values.config.allowedHosts -}}
{{- if not $hosts -}}
{{- $fullname := include "cp.fullname" . -}}
{{- $hosts = concat .Values.ingress.hosts .Values.httpRoute.hostnames (list $fullname (printf "%s.%s.svc" $fullname .Release.Namespace) (printf "%s.%s.svc.cluster.local" $fullname .Release.Namespace)) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/* The settings, as environment variables (README). */}}
{{- define "cp.configData" -}}
DEBUG: "false"
ALLOWED_HOSTS: {{ include "cp.allowedHosts" . | quote }}
CSRF_TRUSTED_ORIGINS: {{ join "," .Values.config.csrfTrustedOrigins | quote }}
TRUST_X_FORWARDED_PROTO: {{ .Values.config.trustXForwardedProto | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
CLUSTER_BACKEND: {{ .Values.config.clusterBackend | quote }}
KUBE_IN_CLUSTER: "true"
GATEWAY_NAME: {{ .Values.config.gatewayName | quote }}
GATEWAY_NAMESPACE: {{ .Values.config.gatewayNamespace | quote }}
MONITORING_NAMESPACE: {{ .Values.config.monitoringNamespace | quote }}
KEDA_HTTP_NAMESPACE: {{ .Values.config.kedaHttpNamespace | quote }}
ENDPOINT_BASE_DOMAIN: {{ .Values.config.endpointBaseDomain | quote }}
PROMETHEUS_URL: {{ .Values.config.prometheusUrl | quote }}
{{- with .Values.config.gpuPools }}
GPU_POOLS: {{ toJson . | quote }}
{{- end }}
GUNICORN_WORKERS: {{ .Values.web.gunicorn.workers | quote }}
GUNICORN_THREADS: {{ .Values.web.gunicorn.threads | quote }}
GUNICORN_TIMEOUT_SECONDS: {{ .Values.web.gunicorn.timeoutSeconds | quote }}
CELERY_METRICS_PORT: {{ .Values.metrics.workerPort | quote }}
AUDIT_CHECKPOINT_DIRECTORY: {{ .Values.auditCheckpoints.mountPath | quote }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* The chart's own Secret: the credentials given as values (none when all are existing). */}}
{{- define "cp.secretData" -}}
{{- if and .Values.database.url (not .Values.database.existingSecret.name) }}
database-url: {{ .Values.database.url | b64enc | quote }}
{{- end }}
{{- if and .Values.redis.url (not .Values.redis.existingSecret.name) }}
redis-url: {{ .Values.redis.url | b64enc | quote }}
{{- end }}
{{- if and .Values.secretKey.value (not .Values.secretKey.existingSecret.name) }}
secret-key: {{ .Values.secretKey.value | b64enc | quote }}
{{- end }}
{{- if and .Values.auditSigningKey.value (not .Values.auditSigningKey.existingSecret.name) }}
audit-signing-key: {{ .Values.auditSigningKey.value | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* Pods roll when their settings or the chart's Secret change. */}}
{{- define "cp.podAnnotations" -}}
checksum/config: {{ include "cp.configData" . | sha256sum }}
checksum/secret: {{ include "cp.secretData" . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
