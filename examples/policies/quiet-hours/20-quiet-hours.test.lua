-- The night ticket of the example (rules/README.md, "Quiet hours"):
-- breached at 22:00 (2h round the clock), the on-call page goes out then;
-- the team lead's 75% (21:30) and the manager's 100% + 1h (23:00) wait
-- for the business calendar's opening, Tuesday 09:00, and say when they
-- were reached.  The escalation counts them when reached.
test "a night warning waits for the morning" {
  create { at = "2026-11-16T20:00:00Z", subject = "VPN" },
  action { at = "2026-11-16T22:00:00Z", "notify", to = "on-call" },
  expect { at = "2026-11-16T23:30:00Z", escalation = 3 },
  action { at = "2026-11-17T09:00:00Z", "notify", to = "team-lead",
           reached_at = "2026-11-16T21:30:00Z" },
  action { at = "2026-11-17T09:00:00Z", "notify", to = "manager",
           reached_at = "2026-11-16T23:00:00Z" },
  note { at = "2026-11-17T09:30:00Z" },
}

-- A customer in New York: the reminder reached at 06:00 there goes out
-- at 09:00 there (14:00Z), after 27 hours of waiting.
test "a reminder in the customer's hours" {
  create { at = "2026-11-17T10:00:00Z", subject = "Invoice",
           customer_tz = "America/New_York" },
  reply_agent { at = "2026-11-17T10:30:00Z" },
  status { at = "2026-11-17T11:00:00Z", status = "pending customer" },
  action { at = "2026-11-18T14:00:00Z", "remind_customer",
           template = "reminder", reached_at = "2026-11-18T11:00:00Z" },
  expect { at = "2026-11-18T14:00:00Z", customer_wait = 97200 },
}
