{{- /* Templates are named .tpl so that `palisade scan deploy/` (which reads .yaml/.yml/.json)
does not try to parse Go templates; Helm renders every file here not starting with "_". */ -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "palisade.fullname" . }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ include "palisade.fullname" . }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ include "palisade.fullname" . }}
subjects:
- kind: ServiceAccount
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
