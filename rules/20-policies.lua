-- 20-policies.lua - SLA policies: response and resolution targets.
--
-- A policy has conditions (which tickets it covers; none = every ticket),
-- a calendar (whose open hours the clocks count; none = calendar time)
-- and targets per priority level for the metrics first_response,
-- next_response, periodic_update and resolution.  "best effort" (or
-- false) is no target.  Several policies can match one ticket: for each
-- metric the target that falls due first wins, and the ticket's
-- sla.policy field names the policy that supplied it.  See
-- promptly-rules(5), "Policies".

-- The corporate matrix.  P1 runs round the clock, P2-P4 in business
-- hours; a policy has one calendar, so the matrix is two policies.
policy "corporate-p1" {
  calendar = "24x7",
  first_response = { P1 = "30m" },
  resolution     = { P1 = "4h" },
}

policy "corporate" {
  calendar = "business",
  first_response = { P2 = "1h", P3 = "4h",  P4 = "24h" },
  resolution     = { P2 = "8h", P3 = "24h", P4 = "best effort" },
}

-- Customer tiers (the host's "tier" attribute), in business hours, for
-- every priority level.
policy "enterprise" {
  tier = "enterprise", calendar = "business",
  first_response = "1h", resolution = "4h",
}

policy "professional" {
  tier = "professional", calendar = "business",
  first_response = "4h", resolution = "24h",
}

policy "starter" {
  tier = "starter", calendar = "business",
  first_response = "24h", resolution = "72h",
}

-- A service: security issues get a first response within an hour, at
-- any time of day.
policy "security" {
  when = { type = "security" }, calendar = "24x7",
  first_response = "1h",
}

-- Clocks stop while the ticket waits: "pending customer" is waiting for
-- the customer (that time is also counted as customer wait and drives the
-- reminders in 30-escalation.lua); "stalled" is on hold for any other
-- reason.  A customer reply or a change to another status resumes them.
pause_on { "pending customer", "stalled" }
customer_wait { "pending customer" }

-- More examples (remove the "--" to use one):
--
-- policy "chat" { channel = "chat", calendar = "business",
--   first_response = "5m", next_response = "10m" }
-- policy "updates" { calendar = "business",
--   periodic_update = { P1 = "1h", P2 = "4h" } }
