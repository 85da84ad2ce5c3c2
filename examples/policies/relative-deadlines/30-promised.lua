-- The date promised to the customer, from the ticket (an attribute the
-- host sends, "2026-11-17T12:00:00Z"); no target without one.
policy "promised" {
  calendar = "business",
  resolution = function(t, c)
    return t.promised_by
  end,
}
