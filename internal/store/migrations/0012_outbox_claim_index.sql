-- Claims, probes and renewals read only the rows they can act on: free
-- pending messages in due order, pending messages under a lease by its
-- end (so a claim skips another process's live leases without reading
-- them), and an owner's own leases.
CREATE INDEX outbox_free ON outbox (next_attempt_at, created_at) WHERE state = 'PENDING' AND lease_until = 0;
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state = 'PENDING' AND lease_until > 0;
CREATE INDEX outbox_lease_owner ON outbox (lease_owner) WHERE state = 'PENDING' AND lease_until > 0;
