{{/* Names, labels and the few values derived from others. */}}

{{- define "pier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pier.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "pier.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "pier.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: control-plane
{{- end -}}

{{- define "pier.labels" -}}
{{ include "pier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: pier
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "pier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pier.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pier.modelsNamespace" -}}
{{- default .Release.Namespace .Values.inference.namespace -}}
{{- end -}}

{{- define "pier.secretName" -}}
{{- default (include "pier.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The Secret the inference pods read, in the models' namespace: an existing Secret must
exist there under the same name; a generated one is copied there when the namespaces differ. */}}
{{- define "pier.inferenceSecretName" -}}
{{- if or .Values.secrets.existingSecret (eq (include "pier.modelsNamespace" .) .Release.Namespace) -}}
{{- include "pier.secretName" . -}}
{{- else -}}
{{- printf "%s-inference" (include "pier.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pier.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "pier.internalUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "pier.fullname" .) .Release.Namespace (int .Values.service.port) -}}
{{- end -}}

{{- define "pier.publicUrl" -}}
{{- if .Values.controlPlane.publicUrl -}}
{{- .Values.controlPlane.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" (ne .Values.ingress.tlsSecretName "")) .Values.ingress.host -}}
{{- else -}}
{{- include "pier.internalUrl" . -}}
{{- end -}}
{{- end -}}

{{/* A token kept across upgrades: the value given, else the one in the live Secret, else new. */}}
{{- define "pier.token" -}}
{{- $given := index .root.Values.secrets .value -}}
{{- if $given -}}
{{- $given -}}
{{- else -}}
{{- $live := lookup "v1" "Secret" .root.Release.Namespace (include "pier.fullname" .root) -}}
{{- if and $live (index $live.data .key) -}}
{{- index $live.data .key | b64dec -}}
{{- else -}}
{{- printf "pier_%s" (randAlphaNum 43) -}}
{{- end -}}
{{- end -}}
{{- end -}}
