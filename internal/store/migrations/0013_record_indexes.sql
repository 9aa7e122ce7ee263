-- Fewer indexes for a scan to write (issue 18, recording 100k users): each
-- of these is a prefix of another index on the same table, which serves
-- every query it served (an index holds the rowid too).
-- evaluations_compliance (compliance, account_id) is a prefix of
-- evaluations_compliance_page (compliance, account_id, resource_id).
DROP INDEX evaluations_compliance;
-- evaluation_history_at (at) is a prefix of evaluation_history_trend
-- (at, from_compliance, to_compliance).
DROP INDEX evaluation_history_at;
