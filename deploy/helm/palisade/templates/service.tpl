apiVersion: v1
kind: Service
metadata:
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
spec:
  selector: {{- include "palisade.selector" . | nindent 4 }}
  ports:
  - name: https
    port: 443
    targetPort: https
    protocol: TCP
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels: {{- include "palisade.selector" . | nindent 6 }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "palisade.fullname" . }}-default-deny
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels: {{- include "palisade.selector" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
  - ports:
    - {port: 8443, protocol: TCP}
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
    ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
  # The API server (Namespace and Pod watches): its address differs per cluster, so only the
  # ports are fixed here; narrow it with an ipBlock of the API server's endpoints
  # (`kubectl get endpoints kubernetes`).
  - ports:
    - {port: 443, protocol: TCP}
    - {port: 6443, protocol: TCP}
