calendar "business" { hours = { mon_fri = { "09:00-17:00" } } }

policy "standard" {
  calendar = "business",
  first_response = "2h",
  resolution = "8h",
}

pause_on { "on hold", vendor_wait = "yes" }
customer_wait { "pending customer",
  when = function(t) return t.waiting_on == "customer" end }
