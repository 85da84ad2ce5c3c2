-- 20-channels.lua - channel-specific targets.
--
-- The host's "channel" attribute says where a ticket came from.  Live
-- channels expect an answer within minutes; email can wait for business
-- hours.  Several policies may match one ticket (a chat from an
-- enterprise customer, say): for each metric, the target that falls due
-- first wins.

calendar "desk" {
  tz = "Europe/London",
  hours = { mon_fri = { "08:00-18:00" }, sat = { "09:00-13:00" } },
  holidays = { "*-12-25", "*-12-26", "*-01-01" },
}

-- Chat: the first answer within 2 minutes, every later customer message
-- answered within 5.
policy "chat" {
  channel = "chat", calendar = "desk",
  first_response = "2m", next_response = "5m",
  resolution = { P1 = "2h", P2 = "4h", P3 = "8h", P4 = "best effort" },
}

-- Phone: calls that became tickets need a call back within 15 minutes.
policy "phone" {
  channel = { "phone", "voice" }, calendar = "desk",
  first_response = "15m", next_response = "1h",
}

-- Social media is public: an answer within the hour, round the clock
-- (no calendar: calendar time), and an update every 4 hours while open.
policy "social" {
  channel = { "twitter", "facebook", "social" },
  first_response = "1h", periodic_update = "4h",
}

-- Email: within business hours, by priority.
policy "email" {
  channel = { "email", "web" }, calendar = "desk",
  first_response = { P1 = "1h", P2 = "4h", P3 = "8h", P4 = "2d" },
  next_response  = { P1 = "2h", P2 = "8h", P3 = "1d", P4 = "2d" },
}

pause_on { "pending customer" }
customer_wait { "pending customer" }

at "80%"  { notify = "desk-lead" }
at "100%" { notify = { "desk-lead", "support-manager" } }
