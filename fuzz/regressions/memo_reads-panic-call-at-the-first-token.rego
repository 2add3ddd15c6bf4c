packige fuzz.pkg
violation[{"msg": m}] { m := sprintf("%v", [input.rev.weiobject.metadt, ["parameters", "a"], 1) }
---
(ackage lib.x
f(re) ew` = y { y := review.operation } else = 1 { true }
