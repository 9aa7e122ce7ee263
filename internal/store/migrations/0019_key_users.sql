-- The users with at least one key row, per account (kind 'keyusers'), so
-- that the keys table's unfiltered count (store.CountKeys) reads a row per
-- account instead of every key row. Kept by recountAccounts (aggregates.go)
-- in the transaction of every write, like the other account_counts rows.
INSERT INTO account_counts (account_id, kind, value, n)
    SELECT account_id, 'keyusers', '', COUNT(DISTINCT resource_id) FROM evaluation_keys GROUP BY account_id;
