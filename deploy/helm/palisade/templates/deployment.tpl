apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "palisade.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "palisade.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {{- include "palisade.selector" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  template:
    metadata:
      labels: {{- include "palisade.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ toYaml .Values.config | sha256sum }}
    spec:
      serviceAccountName: {{ include "palisade.fullname" . }}
      automountServiceAccountToken: false
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext: {{- toYaml .Values.podSecurityContext | nindent 8 }}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels: {{- include "palisade.selector" . | nindent 18 }}
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchLabels: {{- include "palisade.selector" . | nindent 12 }}
      containers:
      - name: webhook
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}"
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        args: [admission, serve, --config, /etc/palisade/config/config.yaml]
        ports:
        - name: https
          containerPort: 8443
          protocol: TCP
        securityContext: {{- toYaml .Values.securityContext | nindent 10 }}
        resources: {{- toYaml .Values.resources | nindent 10 }}
        livenessProbe:
          httpGet: {path: /healthz, port: https, scheme: HTTPS}
          periodSeconds: 10
        readinessProbe:
          httpGet: {path: /readyz, port: https, scheme: HTTPS}
          periodSeconds: 5
        volumeMounts:
        - {name: tls, mountPath: /tls, readOnly: true}
        - {name: config, mountPath: /etc/palisade/config, readOnly: true}
        - {name: kube-api-access, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
        - {name: policies, mountPath: /etc/palisade/policies, readOnly: true}
      volumes:
      - name: tls
        secret: {secretName: {{ .Values.tlsSecretName }}}
      - name: config
        configMap: {name: {{ include "palisade.fullname" . }}}
      # The API token, mounted explicitly (automount stays off): a short-lived projected token
      # for watching Namespaces and Pods (cluster.enabled: auto).
      - name: kube-api-access
        projected:
          sources:
          - serviceAccountToken: {path: token, expirationSeconds: 3607}
          - configMap:
              name: kube-root-ca.crt
              items: [{key: ca.crt, path: ca.crt}]
          - downwardAPI:
              items:
              - path: namespace
                fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}
      - name: policies
        configMap: {name: palisade-policies, optional: true}
