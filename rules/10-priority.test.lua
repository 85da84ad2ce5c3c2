-- 10-priority.test.lua - test cases for the shipped priority rules and
-- policies.  "promptly test ." runs them; a hot reload runs them too and
-- keeps the old rules while one fails.  See promptly-rules(5), "Rule tests".
--
-- A case is a ticket's history (create, reply_agent, status, ... with
-- their instants, UTC) and what must hold: expect { ... } checks the
-- ticket as of the step before it; action { ... } is an action that must
-- fire at that instant.  A case lists every action fired up to its last
-- step (or its "through" instant).

-- 2026-11-16 is a Monday; "business" is Monday to Friday 09:00-17:00 UTC.

test "an outage is P1, answered within 30 minutes round the clock" {
  create { at = "2026-11-16T07:42:00Z", subject = "Production is down" },
  expect { priority = "P1", rule = "10-priority.lua:26",
           policy = { first_response = "corporate-p1",
                      resolution = "corporate-p1" },
           due = { first_response = "2026-11-16T08:12:00Z",
                   resolution = "2026-11-16T11:42:00Z" } },
  -- 75% of 30 minutes: the team lead hears of it at 08:04:30.
  action { at = "2026-11-16T08:04:30Z", "notify", to = "team-lead" },
  reply_agent { at = "2026-11-16T08:10:00Z" },
  expect { state = { first_response = "met" }, due = "2026-11-16T11:42:00Z" },
}

test "no keyword: the default P3, four business hours from Friday 16:00" {
  through = "2026-11-23T11:30:00Z",
  create { at = "2026-11-20T16:00:00Z", subject = "Question about invoices" },
  -- One hour on Friday, three on Monday: 12:00.  Resolution, 24 business
  -- hours: 1 (Fri) + 8 (Mon) + 8 (Tue) + 7 (Wed) = Wednesday 16:00.
  expect { priority = "P3", rule = "default", policy = "corporate",
           due = { first_response = "2026-11-23T12:00:00Z",
                   resolution = "2026-11-25T16:00:00Z" } },
  -- 75% of 4 business hours is 3: Friday 1 + Monday 2 = Monday 11:00.
  action { at = "2026-11-23T11:00:00Z", "notify", to = "team-lead" },
}

test "an enterprise customer's broken checkout: P2, the tier's 4h resolution" {
  create { at = "2026-11-16T10:00:00Z", subject = "Checkout broken",
           tier = "enterprise" },
  -- First response: corporate P2 and enterprise are both 1h; the policy
  -- declared first wins the tie.  Resolution: enterprise's 4h is due
  -- before corporate's 8h.
  expect { priority = "P2", rule = "10-priority.lua:30",
           policy = { first_response = "corporate", resolution = "enterprise" },
           due = { first_response = "2026-11-16T11:00:00Z",
                   resolution = "2026-11-16T14:00:00Z" } },
}

test "a feature request is P4: first response in 24 business hours" {
  create { at = "2026-11-16T08:15:00Z", subject = "Feature request: dark mode" },
  -- Monday, Tuesday and Wednesday 09:00-17:00; used up at Wednesday's
  -- close, so due at the next opening.  Resolution is best effort.
  expect { priority = "P4", rule = "10-priority.lua:34",
           due = { first_response = "2026-11-19T09:00:00Z", resolution = "none" },
           policy = { resolution = "none" } },
}

test "waiting on the customer pauses the clocks" {
  create { at = "2026-11-16T09:00:00Z", subject = "Question about invoices" },
  status { at = "2026-11-16T10:00:00Z", status = "pending customer" },
  expect { state = { first_response = "paused" }, status = "paused" },
  reply_customer { at = "2026-11-16T12:00:00Z" },
  -- One hour used before the pause, three left from 12:00.
  expect { state = { first_response = "running" },
           due = { first_response = "2026-11-16T15:00:00Z" },
           customer_wait = 7200 },
}
