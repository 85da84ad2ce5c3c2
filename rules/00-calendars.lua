-- 00-calendars.lua - the business calendars the shipped policies use.
--
-- A calendar is weekly opening hours in a time zone, minus holidays.  SLA
-- clocks of a policy count only the open time of its calendar.  See
-- promptly-rules(5), "Calendars".

-- Round the clock: for P1 tickets and security issues.
calendar "24x7" { hours = "24x7" }

-- Office hours, Monday to Friday 09:00-17:00.
--
-- These hours are in UTC until you set your zone: add a line such as
--   tz = "Europe/Berlin",
-- (any IANA zone name) and your public holidays, for example
--   holidays = { "*-01-01", "*-12-25", "2026-04-03" },
-- or an iCalendar file kept in this folder:
--   ics = "holidays.ics",
-- The shipped test cases (10-priority.test.lua, 30-escalation.test.lua)
-- expect these hours in UTC: when you change them, "promptly test" names
-- the dues to update, and until then a hot reload keeps the old rules.
calendar "business" {
  hours = { mon_fri = { "09:00-17:00" } },
}
