-- 30-escalation.lua - warnings, breaches, escalation and reminders.
--
-- "at" runs actions when a clock has used a share of its target: a
-- warning before the target, the breach at 100%, escalation levels after
-- it ("100% + 2h" = two hours of the policy's business time after the
-- breach).  Each action fires once per ticket, metric and cycle.  The host
-- carries the actions out.  See promptly-rules(5), "Thresholds".

-- sla.status turns at_risk at this share of a target (75% is also the
-- default).
at_risk "75%"

-- Whom to notify is the host's business.  In Request Tracker these are
-- RT names: the ticket's roles Owner and AdminCc (with the queue's
-- AdminCc), and the groups "SLA Team Leads" and "SLA Managers", which
-- rt-promptly-setup creates (add their members in Admin > Groups).
at "75%"       { notify = "Owner, SLA Team Leads" }
at "100%"      { notify = "Owner, SLA Managers", raise_priority = 1 }
at "100% + 2h" { notify = "AdminCc, SLA Managers" }

-- While the ticket waits for the customer ("pending customer", see
-- customer_wait in 20-policies.lua): remind them after 24 and 48 hours
-- with the host's message template "reminder", and close the ticket
-- after 7 days without a reply.
remind_customer_after { "24h", "48h", template = "reminder" }
close_after "7d"
