-- 20-ola-queue.lua - an OLA that runs from the moment the ticket reaches
-- the team: its clock starts when the ticket enters the queue Network
-- (an attribute condition, not an event) and stops at the team's reply.
-- Leaving the queue and coming back starts a new cycle.
metric "network_queue_ola" {
  start = { queue = "Network" },
  stop  = { "reply_agent" },
}

-- Two hours of calendar time (no calendar), at every priority.
policy "network-ola" {
  network_queue_ola = "2h",
}
