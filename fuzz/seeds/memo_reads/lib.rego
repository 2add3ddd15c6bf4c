package fuzz.pkg
violation[{"msg": m}] { m := sprintf("%v", [input.review.object.metadata.name]); input.review.object.spec.hostPID; object.get(input, ["parameters", "a"], 1) }
---
package lib.x
f(review) = y { y := review.operation } else = 2 { true }
