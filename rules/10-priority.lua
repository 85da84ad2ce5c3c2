-- 10-priority.lua - priority auto-assignment, the rules promptly ships.
--
-- Files in this folder load in name order (00-calendars.lua, 10-...,
-- 20-policies.lua, ...); the first priority rule that matches a new ticket
-- sets its priority, and tickets no rule matches get default_priority.
-- Keywords match the subject and the body: case-insensitive, whole words,
-- phrases across any whitespace.  See promptly-rules(5) or README.md.

-- The levels, most urgent first.  This is the default; change names or
-- count here (and the levels named below with them).
levels { {"P1", "Urgent"}, {"P2", "High"}, {"P3", "Normal"}, {"P4", "Low"} }
default_priority "P3"

-- Customer tier, issue type and channel rules go first when they should
-- beat keywords.  Examples (remove the "--" to use one):
--
-- priority { "P1", tier = "enterprise", type = "incident" }
-- priority { "P2", tier = { "enterprise", "premium" } }
-- priority { "P2", type = "security" }
-- priority { "P2", channel = "phone" }
-- priority { "P4", channel = { "web", "email" }, queue = "Feedback" }
-- priority { "P1", when = function(t)
--   return t.tier == "enterprise" and t.type == "incident"
-- end }

priority { "P1", words = {
  "outage", "down", "security", "data loss", "cannot log in", "urgent",
} }

priority { "P2", words = {
  "broken", "error", "failed", "not working",
} }

priority { "P4", words = {
  "feature request", "suggestion",
} }

-- Everything else: P3 (default_priority above).
