-- The audit report's enforcement lists at 1,000 x 100 (issue 15, the report
-- under 60 ms, warm or cold).
-- The newest audit records first (the report, the enforcement page: ORDER BY
-- at DESC, id DESC LIMIT n): an index on (at) ends with the rowid, so the
-- query walks n entries. With the outcome between them, (at, outcome) made
-- SQLite read and sort every record sharing the newest times (5,000 for one
-- enforcement run) before the limit.
-- The counts by outcome since a time (the overview, the enforcement page, the
-- report): one range of (outcome, at) per outcome, without sorting the
-- window's records to group them.
DROP INDEX audit_at;
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_outcome_at ON audit (outcome, at);
