calendar "business" { hours = { mon_fri = { "09:00-17:00" } } }

policy "standard" {
  calendar = "business",
  first_response = "4h",
  resolution = "16h",
}

at_risk { "75%", first_response = "50%" }

at "75%"  { metrics = { "first_response" }, notify = "team-lead" }
at "75%"  { metrics = { "resolution" }, notify = "manager" }
at "100%" { notify = "director" }
