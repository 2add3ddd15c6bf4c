package fuzz.pkg

violation[{"msg": msg}] {
  r := input.parameters.ranges[_]
  in_range(3, input.parameters.ranges)
  obj := {k: v | v := input.review.object.metadata.labels[k]}
  {"a": x} = obj
  msg := sprintf("%v in [%v, %v] and %v", [3, r.min, r.max, x])
}

in_range(v, ranges) {
  some i
  v >= ranges[i].min
  v <= ranges[i].max
}

in_range("x", _)
