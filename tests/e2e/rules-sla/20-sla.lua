-- 20-sla.lua - short SLA targets for the RT end-to-end tests (issue 4).
-- run-rt-e2e.sh drops this file into the rules folder after the priority
-- checks.
calendar "e2e-always" { tz = "UTC", hours = "24x7" }

policy "e2e" { calendar = "e2e-always",
  first_response = { P1 = "12s", P2 = "12s", P3 = "12s", P4 = "12s" },
  resolution     = { P1 = "1h",  P2 = "1h",  P3 = "1h",  P4 = "1h" } }

pause_on { "stalled" }
customer_wait { "pending customer" }

at "75%"  { note = "promptly e2e: 75% of the target used" }
at "100%" { notify = "root", raise_priority = 1 }

-- An approved exception (rt-e2e-ui.sh, exception_checks): a manager
-- names it in the field SLA Exception Request.
exception "outage" { extend = "4h", metrics = { "resolution" },
                     reason = "Data centre outage" }
