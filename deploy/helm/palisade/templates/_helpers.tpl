{{- define "palisade.fullname" -}}
{{- printf "%s-admission" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "palisade.labels" -}}
app.kubernetes.io/name: palisade-admission
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "palisade.selector" -}}
app.kubernetes.io/name: palisade-admission
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "palisade.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
    {{- range (append .Values.webhook.excludedNamespaces .Release.Namespace | uniq) }}
    - {{ . | quote }}
    {{- end }}
{{- end -}}

{{- define "palisade.clientConfig" -}}
clientConfig:
  service:
    name: {{ include "palisade.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- with .root.Values.webhook.caBundle }}
  caBundle: {{ . }}
  {{- end }}
{{- end -}}
