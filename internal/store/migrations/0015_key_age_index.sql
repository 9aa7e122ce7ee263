-- The keys table over every stage sorted by age (/noncompliant?stage=all&sort=age,
-- issue 15): without a stage to narrow it, the sort read every key row.
-- This index holds the sort's terms, so a page walks 50 of its entries
-- (either way) and reads only those rows.
CREATE INDEX evaluation_keys_created ON evaluation_keys (created_at, account_id, user_name, idx);
