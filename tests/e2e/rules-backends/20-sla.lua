-- 20-sla.lua - SLA targets for tests/e2e/backends.sh.  Load tickets get
-- an hour (nothing fires while the test runs); a ticket whose subject
-- says "shortclock" gets a 10 s first response, so that a reply held in
-- an open transaction past that due can show that nothing breached.
calendar "e2e-always" { tz = "UTC", hours = "24x7" }

policy "load" { calendar = "e2e-always", first_response = "1h",
  resolution = "8h" }
policy "short" { words = { "shortclock" }, calendar = "e2e-always",
  first_response = "10s", resolution = "1h" }

at "100%" { notify = "root", raise_priority = 1 }
