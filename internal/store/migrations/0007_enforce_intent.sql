-- Enforcement, Vault-grade: an audit record is written with outcome
-- 'pending' (the intent) before the IAM call and updated with the outcome
-- after it; a pending record found on start is reconciled against IAM.
-- key_notice records when an owner was told that a key will be deactivated,
-- and the date it may be, at the earliest.

CREATE TABLE key_notice (
    account_id      TEXT    NOT NULL,
    access_key_id   TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    user_name       TEXT    NOT NULL DEFAULT '',
    noticed_at      INTEGER NOT NULL,
    deactivate_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, access_key_id)
);

CREATE INDEX audit_pending ON audit (outcome) WHERE outcome = 'pending';
