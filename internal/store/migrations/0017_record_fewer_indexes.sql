-- Recording 100k users under 1 s (issue 18): an index a scan writes and no
-- query reads.
--
-- evaluations_type_compliance (resource_type, compliance, account_id)
-- served the organization's counts (Totals, Accounts, TopNonCompliant),
-- which read account_counts since migration 16. Its one remaining user was
-- Store.Account's count of one account's users, which SQLite answered by
-- searching it by resource_type alone: every user of the organization. The
-- primary key (account_id, resource_id) answers that count from the
-- account's own rows. A first scan of 100,000 users writes 100,000 entries
-- fewer (6 MB of the file).
DROP INDEX evaluations_type_compliance;


-- Kept: evaluation_keys_status. Folding it into evaluation_keys_created
-- (status after the sort terms) was measured: the age histogram of the
-- metrics then reads every key's wider entry and took 84-141 ms instead of
-- 25-65 ms at 100,000 users, on the first request after each write.
