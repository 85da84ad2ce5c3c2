calendar "business" {
  hours = {
    mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00",
    thu = "09:00-17:00", fri = "09:00-13:00",
  },
  holidays = { "2026-11-19" },
}

policy "standard" {
  calendar = "business",
  first_response = "end of business day",
  resolution = "next business day 16:00",
}

pause_on { "on hold" }

at "75%" { metrics = { "resolution" }, notify = "team-lead" }
