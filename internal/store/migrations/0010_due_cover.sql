-- Cheaper pages at 1,000 accounts x 100 users (issue 15).
-- The keys table filtered by stage and due date (/noncompliant?due=30d)
-- counts distinct users and sorts by age: a covering index serves both
-- without reading the table's rows (the page then reads its 50 rows by
-- rowid).
DROP INDEX evaluation_keys_stage;
CREATE INDEX evaluation_keys_stage ON evaluation_keys (stage, created_at, account_id, user_name, idx, resource_id);
-- The time to remediate reads the history rows leaving NON_COMPLIANT in a
-- window: one range of this index instead of every row of the window.
CREATE INDEX evaluation_history_leaving ON evaluation_history (from_compliance, at, to_compliance);
-- Enforcement counts by outcome over a window (the overview, the
-- enforcement page, the report): the outcome in the index, not the row.
DROP INDEX audit_at;
CREATE INDEX audit_at ON audit (at, outcome);
