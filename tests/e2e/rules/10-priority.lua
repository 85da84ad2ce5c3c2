-- 10-priority.lua - priority rules for the RT end-to-end tests.
-- Keywords decide the level on creation; anything else gets P3.
levels { {"P1", "Urgent"}, {"P2", "High"}, {"P3", "Normal"}, {"P4", "Low"} }
default_priority "P3"

priority { "P1", words = { "down", "outage", "data loss" } }
priority { "P4", words = { "feature request", "suggestion" } }
