-- 30-escalation.test.lua - test cases for the shipped thresholds and
-- customer reminders (30-escalation.lua).  See promptly-rules(5),
-- "Rule tests".

test "an unanswered P1: the team lead at 75%, the manager at the breach" {
  through = "2026-11-16T08:12:00Z",
  -- P1 by 10-priority.lua: 30 minutes to respond, round the clock.
  create { at = "2026-11-16T07:42:00Z", subject = "Checkout is down" },
  action { at = "2026-11-16T08:04:30Z", "notify", to = "team-lead" },
  expect { at = "2026-11-16T08:04:30Z", status = "at_risk", escalation = 1 },
  action { at = "2026-11-16T08:12:00Z", "notify", to = "manager" },
  action { at = "2026-11-16T08:12:00Z", "raise_priority", by = "1" },
  -- P1 is the most urgent level already.
  expect { at = "2026-11-16T08:12:00Z", status = "breached", escalation = 2,
           priority = "P1", state = { first_response = "breached" } },
}

test "waiting on the customer: reminders after 24 and 48 hours, closed after 7 days" {
  through = "2026-11-23T10:00:00Z",
  create { at = "2026-11-16T09:00:00Z", subject = "Question about invoices" },
  status { at = "2026-11-16T10:00:00Z", status = "pending customer" },
  -- The clocks stand still meanwhile: no threshold is reached.
  action { at = "2026-11-17T10:00:00Z", "remind_customer", template = "reminder" },
  action { at = "2026-11-18T10:00:00Z", "remind_customer", template = "reminder" },
  expect { at = "2026-11-18T10:00:00Z", customer_wait = 172800,
           state = { first_response = "paused", resolution = "paused" } },
  action { at = "2026-11-23T10:00:00Z", "close" },
}
