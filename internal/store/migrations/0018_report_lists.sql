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
-- The exempt keys with the exemption the lifecycle applied (the report, the
-- exemptions page). The exemption is kept only in the user's keys_json:
-- reading it there took 1,000 evaluations at random for 1,000 exempt users.
-- These rows hold it per key; the store rewrites an account's rows with its
-- counts (aggregates.go) in the transaction of every write of its
-- evaluations or key rows.
CREATE TABLE exempt_keys (
    account_id    TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    idx           INTEGER NOT NULL, -- the key's position in keys_json
    access_key_id TEXT    NOT NULL,
    user_name     TEXT    NOT NULL,
    arn           TEXT    NOT NULL,
    until         TEXT    NOT NULL, -- as in keys_json (RFC 3339)
    reason        TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    PRIMARY KEY (account_id, resource_id, idx)
) WITHOUT ROWID;
INSERT INTO exempt_keys (account_id, resource_id, idx, access_key_id, user_name, arn, until, reason, source)
SELECT * FROM (SELECT k.account_id, k.resource_id, k.idx, k.access_key_id, e.user_name, e.arn,
        json_extract(e.keys_json, '$[' || k.idx || '].lifecycle.exemption.until') AS until,
        COALESCE(json_extract(e.keys_json, '$[' || k.idx || '].lifecycle.exemption.reason'), '') AS reason,
        COALESCE(json_extract(e.keys_json, '$[' || k.idx || '].lifecycle.exemption.source'), '') AS source
    FROM evaluation_keys k JOIN evaluations e ON e.account_id = k.account_id AND e.resource_id = k.resource_id
    WHERE k.stage = 'exempt') WHERE until IS NOT NULL;
