{{/* The chart's name, or nameOverride. */}}
{{- define "nexus-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects: fullnameOverride, else the release name, with the chart name unless it holds it. */}}
{{- define "nexus-operator.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "nexus-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels every object of the release carries. */}}
{{- define "nexus-operator.commonLabels" -}}
helm.sh/chart: {{ include "nexus-operator.chart" . }}
app.kubernetes.io/name: {{ include "nexus-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nexus-operator
{{- end }}

{{/* The labels of the operator's own objects. */}}
{{- define "nexus-operator.labels" -}}
{{ include "nexus-operator.commonLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The labels that select the operator pods (never change them in an upgrade: a Deployment's selector is immutable). */}}
{{- define "nexus-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nexus-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "nexus-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nexus-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image, with the appVersion when no tag is set. */}}
{{- define "nexus-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The namespaces that get a workers' ServiceAccount: the release's, and watchNamespace when it is another. */}}
{{- define "nexus-operator.workerNamespaces" -}}
{{- $namespaces := list .Release.Namespace }}
{{- if and .Values.watchNamespace (ne .Values.watchNamespace .Release.Namespace) }}
{{- $namespaces = append $namespaces .Values.watchNamespace }}
{{- end }}
{{- join "," $namespaces }}
{{- end }}

{{/* --active-deadline's value, STEP=SECONDS entries separated by commas, in step order (NEXUS_ACTIVE_DEADLINE). */}}
{{- define "nexus-operator.activeDeadlines" -}}
{{- $entries := list }}
{{- range $step, $seconds := .Values.operator.activeDeadlineSeconds }}
{{- $entries = append $entries (printf "%s=%d" $step (int64 $seconds)) }}
{{- end }}
{{- join "," $entries }}
{{- end }}
