package k8smemorootfs

import data.lib.memohelpers.is_update

violation[{"msg": msg}] {
  not is_update(input.review)
  c := containers[_]
  not exempt(c)
  not c.securityContext.readOnlyRootFilesystem
  msg := sprintf("container %v has a writable root filesystem", [c.name])
}

containers[c] {
  c := input.review.object.spec.containers[_]
}

containers[c] {
  c := input.review.object.spec["initContainers"][_]
}

exempt(c) {
  images := object.get(object.get(input, "parameters", {}), "exemptImages", [])
  c.image == images[_]
}
      libs:
      rego: |
package k8smemohostpid

violation[{"msg": msg}] {
  input.review.object.spec.hostPID
  msg := sprintf("pod %v shares the host's PID namespace", [input.review.object.metadata.name])
}
---
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8smemoclock
spec:
  crd:
    spec:
      names:
kind: K8sMemoClock
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
package k8smemoclock

violation[{"msg": "created at an odd nanosecond"}] {
  input.review.object.spec.hostPID
  time.now_ns() % 2 == 1
