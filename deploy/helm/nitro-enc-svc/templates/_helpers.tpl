{{/* Names and labels shared by every object. */}}
{{- define "nes.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "nes.labels" -}}
app.kubernetes.io/name: nitro-enc-svc
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "nes.selector" -}}
app.kubernetes.io/name: nitro-enc-svc
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The proxy image reference. */}}
{{- define "nes.proxyImage" -}}
{{ .Values.images.proxy.repository }}:{{ .Values.images.proxy.tag }}
{{- end -}}

{{/* Security context of every nitro-enc-proxy container: non-root, read-only, no capability. */}}
{{- define "nes.proxySecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.proxyUser }}
runAsGroup: {{ .Values.proxyUser }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  {{- toYaml .Values.vsockSeccompProfile | nindent 2 }}
{{- end -}}
