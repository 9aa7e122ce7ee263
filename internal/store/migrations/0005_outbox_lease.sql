-- Leases on outbox messages: a dispatcher claims the messages it is about to
-- send, so that two keyage processes on one state file (keyage serve and a
-- keyage run beside it) do not both send them. A lease that runs out (its
-- process died) makes the message claimable again: delivery stays at least
-- once.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
