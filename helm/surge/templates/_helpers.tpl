{{/*
Names. Kubernetes names are DNS labels (63 characters); the Job name also carries the
release revision, so the prefix is cut shorter there.
*/}}
{{- define "surge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "surge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The coordinator Service: what the workers connect to and `surge ctl` talks to. */}}
{{- define "surge.coordinatorService" -}}
{{- printf "%s-coordinator" (include "surge.fullname" . | trunc 51 | trimSuffix "-") }}
{{- end }}

{{/*
One Job per release revision: a Job's pod template is immutable, and one plan is one run,
so `helm upgrade` with a new plan starts a new run instead of failing to patch the old one.
*/}}
{{- define "surge.coordinatorJob" -}}
{{- printf "%s-coordinator-r%d" (include "surge.fullname" . | trunc 40 | trimSuffix "-") (int .Release.Revision) }}
{{- end }}

{{- define "surge.workers" -}}
{{- printf "%s-worker" (include "surge.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "surge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "surge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "surge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "surge.labels" -}}
helm.sh/chart: {{ include "surge.chart" . }}
{{ include "surge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "surge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "surge.planConfigMap" -}}
{{- if .Values.plan.existingConfigMap }}
{{- .Values.plan.existingConfigMap }}
{{- else }}
{{- printf "%s-plan" (include "surge.fullname" . | trunc 58 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{- define "surge.coordinatorCurveSecret" -}}
{{- default (printf "%s-curve-coordinator" (include "surge.fullname" . | trunc 44 | trimSuffix "-")) .Values.curve.coordinatorSecret }}
{{- end }}

{{- define "surge.workerCurveSecret" -}}
{{- default (printf "%s-curve-worker" (include "surge.fullname" . | trunc 49 | trimSuffix "-")) .Values.curve.workerSecret }}
{{- end }}

{{/* The live page's bearer token (--live-token-file): the chart's Secret, or the user's. */}}
{{- define "surge.liveTokenSecret" -}}
{{- default (printf "%s-live-token" (include "surge.fullname" . | trunc 52 | trimSuffix "-")) .Values.metrics.liveToken.existingSecret }}
{{- end }}

{{- define "surge.resultsClaim" -}}
{{- default (printf "%s-results" (include "surge.fullname" . | trunc 55 | trimSuffix "-")) .Values.results.persistence.existingClaim }}
{{- end }}

{{/* tcp://<service>.<namespace>.svc.<domain>:<port>: a fully qualified name, one lookup. */}}
{{- define "surge.coordinatorEndpoint" -}}
{{- printf "tcp://%s.%s.svc.%s:%d" (include "surge.coordinatorService" .) .Release.Namespace .Values.clusterDomain (int .Values.coordinator.port) }}
{{- end }}

{{/*
Pod-level security: non-root with fixed ids (configurable), RuntimeDefault seccomp.
Not overridable as a whole on purpose: a load fleet holds API keys and can aim traffic.
*/}}
{{- define "surge.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.podSecurityContext.runAsUser }}
runAsUser: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext.runAsGroup }}
runAsGroup: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext.fsGroup }}
fsGroup: {{ . }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "surge.containerSecurityContext" -}}
runAsNonRoot: true
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The read-only root filesystem leaves /tmp as the only scratch space. */}}
{{- define "surge.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
{{- end }}
