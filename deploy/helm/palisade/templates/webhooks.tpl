apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {{ include "palisade.fullname" . }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
  {{- if .Values.webhook.certManager }}
  annotations:
    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "palisade.fullname" . }}
  {{- end }}
webhooks:
- name: validate.admission.palisade.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: {{ .Values.webhook.validatingFailurePolicy }}
  matchPolicy: Equivalent
  timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
  {{- include "palisade.clientConfig" (dict "root" . "path" "/validate") | nindent 2 }}
  {{- include "palisade.namespaceSelector" . | nindent 2 }}
  rules:
  - apiGroups: [""]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [pods, pods/ephemeralcontainers, podtemplates, replicationcontrollers, namespaces]
    scope: "*"
  - apiGroups: [apps]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [deployments, replicasets, daemonsets, statefulsets]
  - apiGroups: [batch]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [jobs, cronjobs]
{{- if .Values.webhook.mutation }}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ include "palisade.fullname" . }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
  {{- if .Values.webhook.certManager }}
  annotations:
    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "palisade.fullname" . }}
  {{- end }}
webhooks:
- name: mutate.admission.palisade.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: {{ .Values.webhook.mutatingFailurePolicy }}
  reinvocationPolicy: Never
  timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
  {{- include "palisade.clientConfig" (dict "root" . "path" "/mutate") | nindent 2 }}
  {{- include "palisade.namespaceSelector" . | nindent 2 }}
  rules:
  - apiGroups: [""]
    apiVersions: [v1]
    operations: [CREATE]
    resources: [pods]
  - apiGroups: [apps]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [deployments, replicasets, daemonsets, statefulsets]
  - apiGroups: [batch]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [jobs, cronjobs]
{{- end }}
