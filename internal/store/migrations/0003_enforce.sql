-- Enforcement (keyage enforce): what keyage knows of each key's inactivity,
-- and the audit trail of every action, applied or not.

CREATE TABLE key_state (
    account_id          TEXT    NOT NULL,
    access_key_id       TEXT    NOT NULL,
    resource_id         TEXT    NOT NULL,
    user_name           TEXT    NOT NULL DEFAULT '',
    inactive_since      INTEGER NOT NULL,          -- first seen inactive, or deactivated by keyage
    deactivated_by_keyage INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, access_key_id)
);

CREATE TABLE audit (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    caller_arn      TEXT    NOT NULL,
    account_id      TEXT    NOT NULL,
    user_name       TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL DEFAULT '',
    access_key_id   TEXT    NOT NULL,
    action          TEXT    NOT NULL,              -- deactivate, delete, reactivate
    outcome         TEXT    NOT NULL,              -- applied, dry-run, refused, escalated, failed
    reason          TEXT    NOT NULL DEFAULT '',
    before_status   TEXT    NOT NULL DEFAULT '',
    after_status    TEXT    NOT NULL DEFAULT '',
    dry_run         INTEGER NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_key ON audit (account_id, access_key_id);
