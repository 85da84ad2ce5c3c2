calendar "business" { hours = { mon_fri = { "09:00-17:00" } } }
calendar "customer-hours" {
  hours = { mon_fri = { "09:00-18:00" } },
  tz = from("customer_tz", "Europe/Berlin"),
}

policy "round-the-clock" { first_response = "2h" }

notify_calendar "business"

at "75%"       { notify = "team-lead" }
at "100%"      { notify = "on-call", quiet = false }
at "100% + 1h" { notify = "manager" }

customer_wait { "pending customer" }
remind_customer_after { "24h", template = "reminder", quiet = "customer-hours" }
