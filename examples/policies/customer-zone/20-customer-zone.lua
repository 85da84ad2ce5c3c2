calendar "customer-hours" {
  hours = { mon_fri = { "09:00-17:00" } },
  tz = from("customer_tz", "Europe/Berlin"),
}

policy "standard" {
  calendar = "customer-hours",
  first_response = "4h",
}
