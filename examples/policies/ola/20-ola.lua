-- 20-ola.lua - an operational-level agreement (OLA): a target that one
-- internal team owes another.
--
-- Two ways to write one:
-- 1. A custom metric that starts and stops on ticket events.  Here the
--    support desk hands a ticket to the network team by setting the status
--    "network"; the network team owes an answer (a public reply, or a
--    status change back to "open") within 2 business hours.
-- 2. A policy on the team's queue: tickets in the queue "Network" get
--    tighter first response and resolution targets than the customer SLA.

calendar "ops" {
  tz = "Europe/Berlin",
  hours = { mon_fri = { "07:00-19:00" } },
}

metric "network_ola" {
  start  = { "status:network" },
  pause  = { "status:waiting for vendor" },
  resume = { "status:network" },
  stop   = { "reply_agent", "status:open", "status:resolved" },
}

-- The OLA's target, per priority level, under the metric's name.
policy "network-ola" {
  calendar = "ops",
  network_ola = { P1 = "30m", P2 = "2h", P3 = "2h", P4 = "1d" },
}

-- The same team's queue, as a policy.
policy "network-queue" {
  queue = "Network", calendar = "ops",
  first_response = { P1 = "15m", P2 = "1h", P3 = "4h", P4 = "1d" },
  resolution     = { P1 = "4h",  P2 = "1d", P3 = "3d", P4 = "best effort" },
}

-- Escalate the OLA only, not the customer's targets.
at "75%"  { metrics = { "network_ola" }, notify = "network-lead" }
at "100%" { metrics = { "network_ola" }, notify = "ops-manager",
            note = "Network OLA breached" }
