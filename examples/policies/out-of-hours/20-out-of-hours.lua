calendar "business" { hours = { mon_fri = { "09:00-17:00" } } }

policy "standard" {
  calendar = "business",
  first_response = "1h",
  resolution = "8h",
  out_of_hours = { first_response = "+30m" },
}
