calendar "business" {
  hours = {
    mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00",
    thu = "09:00-17:00", fri = "09:00-13:00",
  },
  holidays = { "2026-11-19" },
}

policy "standard" {
  calendar = "business",
  first_response = "1bd",
  resolution = "3bd",
}
