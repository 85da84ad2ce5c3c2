calendar "business" { hours = { mon_fri = { "09:00-17:00" } } }

policy "standard" {
  calendar = "business",
  resolution = { P1 = "4h", P2 = "8h", P3 = "16h", P4 = "32h" },
}

escalate_priority {
  at = { "50%", "75%", "100%" },
  metric = "resolution",
  over_manual = false,
}

at "75%" { notify = "team-lead" }
