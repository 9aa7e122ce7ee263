-- Read models of the dashboard, API and metrics (internal/server), kept up to
-- date by triggers so that every writer (scans, single re-evaluations,
-- deletions) maintains them without knowing they exist.

-- One row per access key of every current evaluation: what keys_json holds,
-- flattened so stages, ages and owners can be counted and sorted in SQL.
-- owner is the user's "email" tag (owners.tagKey's default).
CREATE TABLE evaluation_keys (
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
);
CREATE INDEX evaluation_keys_stage ON evaluation_keys (stage, created_at);

CREATE TRIGGER evaluation_keys_insert AFTER INSERT ON evaluations BEGIN
    INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
    SELECT NEW.account_id, NEW.resource_id, CAST(j.key AS INTEGER),
        COALESCE(json_extract(j.value, '$.accessKeyId'), ''), NEW.user_name, NEW.compliance,
        COALESCE(json_extract(NEW.tags_json, '$.email'), ''),
        COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
        COALESCE(json_extract(j.value, '$.ageDays'), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(json_extract(j.value, '$.lastUsedService'), '')
    FROM json_each(NEW.keys_json) j WHERE j.type = 'object';
END;

-- Only when something the read model holds changed: a rescan that finds the
-- same keys costs nothing more.
CREATE TRIGGER evaluation_keys_update AFTER UPDATE ON evaluations
WHEN OLD.keys_json IS NOT NEW.keys_json OR OLD.compliance IS NOT NEW.compliance OR OLD.tags_json IS NOT NEW.tags_json OR OLD.user_name IS NOT NEW.user_name
BEGIN
    DELETE FROM evaluation_keys WHERE account_id = OLD.account_id AND resource_id = OLD.resource_id;
    INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
    SELECT NEW.account_id, NEW.resource_id, CAST(j.key AS INTEGER),
        COALESCE(json_extract(j.value, '$.accessKeyId'), ''), NEW.user_name, NEW.compliance,
        COALESCE(json_extract(NEW.tags_json, '$.email'), ''),
        COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
        COALESCE(json_extract(j.value, '$.ageDays'), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(json_extract(j.value, '$.lastUsedService'), '')
    FROM json_each(NEW.keys_json) j WHERE j.type = 'object';
END;

CREATE TRIGGER evaluation_keys_delete AFTER DELETE ON evaluations BEGIN
    DELETE FROM evaluation_keys WHERE account_id = OLD.account_id AND resource_id = OLD.resource_id;
END;

INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
SELECT e.account_id, e.resource_id, CAST(j.key AS INTEGER),
    COALESCE(json_extract(j.value, '$.accessKeyId'), ''), e.user_name, e.compliance,
    COALESCE(json_extract(e.tags_json, '$.email'), ''),
    COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
    COALESCE(json_extract(j.value, '$.ageDays'), 0),
    COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
    COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
    COALESCE(json_extract(j.value, '$.lastUsedService'), '')
FROM evaluations e, json_each(e.keys_json) j WHERE j.type = 'object';

-- The latest scan of every account (the newest scan_accounts row), with its
-- last successful scan.
CREATE TABLE account_latest (
    account_id      TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL DEFAULT '',
    ou              TEXT    NOT NULL DEFAULT '',
    scan_id         INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    error           TEXT    NOT NULL DEFAULT '',
    users           INTEGER NOT NULL DEFAULT 0,
    root_keys_json  TEXT    NOT NULL DEFAULT '[]',
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    last_ok_scan_id INTEGER
);

CREATE TRIGGER account_latest_insert AFTER INSERT ON scan_accounts BEGIN
    INSERT INTO account_latest (account_id, name, ou, scan_id, status, error, users, root_keys_json, duration_ms, last_ok_scan_id)
    VALUES (NEW.account_id, NEW.name, NEW.ou, NEW.scan_id, NEW.status, NEW.error, NEW.users, NEW.root_keys_json, NEW.duration_ms,
        CASE WHEN NEW.status = 'ok' THEN NEW.scan_id END)
    ON CONFLICT (account_id) DO UPDATE SET
        name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE account_latest.name END,
        ou = CASE WHEN excluded.ou <> '' THEN excluded.ou ELSE account_latest.ou END,
        scan_id = excluded.scan_id, status = excluded.status, error = excluded.error,
        users = CASE WHEN excluded.status = 'ok' THEN excluded.users ELSE account_latest.users END,
        root_keys_json = CASE WHEN excluded.status = 'ok' THEN excluded.root_keys_json ELSE account_latest.root_keys_json END,
        duration_ms = excluded.duration_ms,
        last_ok_scan_id = COALESCE(excluded.last_ok_scan_id, account_latest.last_ok_scan_id)
    WHERE excluded.scan_id >= account_latest.scan_id;
END;

INSERT INTO account_latest (account_id, name, ou, scan_id, status, error, users, root_keys_json, duration_ms, last_ok_scan_id)
SELECT sa.account_id, sa.name, sa.ou, sa.scan_id, sa.status, sa.error, sa.users, sa.root_keys_json, sa.duration_ms,
    (SELECT MAX(ok.scan_id) FROM scan_accounts ok WHERE ok.account_id = sa.account_id AND ok.status = 'ok')
FROM scan_accounts sa
WHERE sa.scan_id = (SELECT MAX(l.scan_id) FROM scan_accounts l WHERE l.account_id = sa.account_id);

CREATE INDEX scan_accounts_account ON scan_accounts (account_id, scan_id);
-- Keyset pages of the evaluations API, in (account_id, resource_id) order.
CREATE INDEX evaluations_compliance_page ON evaluations (compliance, account_id, resource_id);
CREATE INDEX evaluations_owner ON evaluations (json_extract(tags_json, '$.email'), account_id, resource_id);
-- The trend of non-compliant users: only transitions into or out of
-- NON_COMPLIANT count.
CREATE INDEX evaluation_history_noncompliant ON evaluation_history (at, from_compliance, to_compliance)
    WHERE from_compliance = 'NON_COMPLIANT' OR to_compliance = 'NON_COMPLIANT';
CREATE INDEX scans_finished ON scans (status, finished_at);
CREATE INDEX outbox_group ON outbox (group_key);
-- Covering indexes of the counts: users by compliance (and non-compliant
-- users by account), keys by account and stage, active keys by age, and
-- the first history row.
CREATE INDEX evaluations_type_compliance ON evaluations (resource_type, compliance, account_id);
CREATE INDEX evaluation_keys_account_stage ON evaluation_keys (account_id, stage);
CREATE INDEX evaluation_keys_status ON evaluation_keys (status, created_at);
CREATE INDEX evaluation_history_at ON evaluation_history (at);
