calendar "business" { hours = { mon_fri = { "09:00-17:00" } } }

accounts "customer" {
  calendar = "business",
  file = "accounts.csv",
  { "Acme",   first_response = "4h", resolution = { P1 = "8h" } },
  { "Globex", first_response = "30m", calendar = "24x7" },
}
