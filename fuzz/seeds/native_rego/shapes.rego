package fuzz.pkg

import data.lib.helpers
import future.keywords.in

violation[{"msg": msg, "details": {"c": c.name}}] {
  c := containers[_]
  not exempt(c)
  level := severity(c)
  level != "ok"
  msg := sprintf("container %v is %v", [c.name, level])
}

violation[{"msg": msg}] {
  some name, value in input.review.object.metadata.labels
  not value in ["b"]
  ports := {p | p := containers[_].ports[_].containerPort}
  count(ports - {80}) > input.parameters.n
  [a, _] := split(name, "/")
  msg := sprintf("%v %v %v%%", [a, (count(ports) * 100) / 3, helpers.double(2)])
}

default limit = 3

limit = n { n := input.parameters.n + 1 }

severity(c) = "high" {
  c.securityContext.privileged
} else = "ok" {
  true
}

exempt(c) {
  c.image == object.get(input.parameters, "exemptImages", [])[_]
}

containers[c] { c := input.review.object.spec.containers[_] }
containers[c] { c := input.review.object.spec.initContainers[_] }
---
package lib.helpers

double(x) = y { y := x * 2 }
