-- Recording 100k users under 1 s (issue 18): fewer b-trees for a scan to
-- write.
--
-- evaluations and evaluation_keys are keyed by (account, resource[, idx]):
-- WITHOUT ROWID stores each row in its primary key's b-tree, so a row is
-- one b-tree insert instead of two (the rowid table and the key's index).
-- Their secondary indexes hold the primary key's columns after their own,
-- so they are declared without them; each keeps the order and the columns
-- of the queries it served (queries.go, overview.go, report.go):
--   evaluations_compliance_page  (compliance) + PK: the API's pages by compliance
--   evaluations_owner            (owner) + PK: the API's pages by owner
--   evaluations_type_compliance  (resource_type, compliance, account_id) + PK: the counts
--   evaluation_keys_stage        (stage, created_at, account_id, user_name) + PK: /noncompliant
--   evaluation_keys_account_stage (account_id, stage) + PK: keys per account and stage
--   evaluation_keys_status       (status, created_at) + PK: the key age histogram

CREATE TABLE evaluations_new (
    account_id      TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    resource_type   TEXT    NOT NULL,
    user_name       TEXT    NOT NULL DEFAULT '',
    path            TEXT    NOT NULL DEFAULT '',
    arn             TEXT    NOT NULL DEFAULT '',
    compliance      TEXT    NOT NULL,
    annotation      TEXT    NOT NULL DEFAULT '',
    tags_json       TEXT    NOT NULL DEFAULT '{}',
    keys_json       TEXT    NOT NULL DEFAULT '[]',
    first_seen      INTEGER NOT NULL,
    changed_at      INTEGER NOT NULL,           -- last compliance change
    evaluated_at    INTEGER NOT NULL,
    scan_id         INTEGER,
    owner           TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, resource_id)
) WITHOUT ROWID;
INSERT INTO evaluations_new (account_id, resource_id, resource_type, user_name, path, arn, compliance, annotation, tags_json, keys_json, first_seen, changed_at, evaluated_at, scan_id, owner)
SELECT account_id, resource_id, resource_type, user_name, path, arn, compliance, annotation, tags_json, keys_json, first_seen, changed_at, evaluated_at, scan_id, owner
FROM evaluations ORDER BY account_id, resource_id;
DROP TABLE evaluations;
ALTER TABLE evaluations_new RENAME TO evaluations;
CREATE INDEX evaluations_compliance_page ON evaluations (compliance);
CREATE INDEX evaluations_owner ON evaluations (owner);
CREATE INDEX evaluations_type_compliance ON evaluations (resource_type, compliance, account_id);

CREATE TABLE evaluation_keys_new (
    account_id        TEXT    NOT NULL,
    resource_id       TEXT    NOT NULL,
    idx               INTEGER NOT NULL,          -- position in keys_json
    access_key_id     TEXT    NOT NULL DEFAULT '',
    user_name         TEXT    NOT NULL DEFAULT '',
    compliance        TEXT    NOT NULL,
    owner             TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT '',
    stage             TEXT    NOT NULL DEFAULT '',
    age_days          INTEGER NOT NULL DEFAULT 0, -- at the evaluation
    created_at        INTEGER NOT NULL DEFAULT 0,
    last_used_at      INTEGER NOT NULL DEFAULT 0,
    last_used_service TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, resource_id, idx)
) WITHOUT ROWID;
INSERT INTO evaluation_keys_new (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
SELECT account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service
FROM evaluation_keys ORDER BY account_id, resource_id, idx;
DROP TABLE evaluation_keys;
ALTER TABLE evaluation_keys_new RENAME TO evaluation_keys;
CREATE INDEX evaluation_keys_stage ON evaluation_keys (stage, created_at, account_id, user_name);
CREATE INDEX evaluation_keys_account_stage ON evaluation_keys (account_id, stage);
CREATE INDEX evaluation_keys_status ON evaluation_keys (status, created_at);

-- evaluation_history_noncompliant (at, from_compliance, to_compliance),
-- partial, served only the report's non-compliant trend; the covering
-- evaluation_history_trend has the same columns in the same order and
-- serves it (reading the other transitions too, once per report).
DROP INDEX evaluation_history_noncompliant;
