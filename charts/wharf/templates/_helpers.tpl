{{- define "wharf.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wharf.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wharf.admissionName" -}}
{{- printf "%s-admission" (include "wharf.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wharf.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "wharf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "wharf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wharf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: registry
{{- end -}}

{{- define "wharf.admissionSelectorLabels" -}}
app.kubernetes.io/name: {{ include "wharf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: admission
{{- end -}}

{{- define "wharf.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The URL clients use: externalURL, else the ingress host. */}}
{{- define "wharf.externalURL" -}}
{{- if .Values.externalURL -}}
{{- .Values.externalURL -}}
{{- else if and .Values.ingress.enabled .Values.ingress.host -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- end -}}
{{- end -}}

{{- define "wharf.adminSecretName" -}}
{{- default (printf "%s-admin" (include "wharf.fullname" .)) .Values.adminPassword.existingSecret -}}
{{- end -}}

{{/* "true" in scale-out mode: metadata in PostgreSQL and blobs in S3, so replicas hold no state. */}}
{{- define "wharf.stateless" -}}
{{- if and .Values.externalDatabase.enabled (or .Values.s3.enabled .Values.azure.enabled) -}}true{{- end -}}
{{- end -}}

{{/* The Secret with the key every replica seals credentials and signs tokens with. */}}
{{- define "wharf.secretKeyName" -}}
{{- default (printf "%s-secret-key" (include "wharf.fullname" .)) .Values.secretKey.existingSecret -}}
{{- end -}}
