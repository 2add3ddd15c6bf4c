apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
data:
  config.yaml: |
    {{- toYaml .Values.config | nindent 4 }}
