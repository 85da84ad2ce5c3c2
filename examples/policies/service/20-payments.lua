-- 20-payments.lua - a service-based policy: payment failures.
--
-- A ticket belongs to the service when the host says so (type "payment")
-- or when its subject or body mentions a failed payment.  Money is
-- involved, so the targets run round the clock.

calendar "24x7" { hours = "24x7" }

-- Conditions of one policy must all hold, so the two ways in are two
-- policies with the same targets.
policy "payments" {
  type = "payment", calendar = "24x7",
  first_response = "30m", resolution = "2h",
}

policy "payments-by-words" {
  calendar = "24x7",
  words = { "payment failed", "payment declined", "card declined",
            "charged twice", "double charge" },
  first_response = "30m", resolution = "2h",
}

-- Payment tickets also go to the priority P1, so that the team sees them
-- first (priority rules: see promptly-rules(5)).
priority { "P1", type = "payment" }

at "50%"  { notify = "payments-oncall", metrics = { "resolution" } }
at "100%" { notify = "payments-lead", set_field = { escalated = "yes" },
            note = "Payment SLA breached: escalated to the payments lead" }
