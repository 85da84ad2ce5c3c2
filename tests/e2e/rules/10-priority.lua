-- 10-priority.lua - priority rules for the RT end-to-end tests.
-- Keywords decide the level on creation; anything else gets the default.
priority { "P1", words = { "down", "outage", "data loss" } }
priority { "P4", words = { "feature request", "suggestion" } }
