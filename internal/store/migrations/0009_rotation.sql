-- Rotation into Secrets Manager (internal/rotate): one row per IAM user
-- being rotated, its state as JSON (new key id, secret ARN, the date of
-- each step). The secret access key is never stored.

CREATE TABLE rotation (
    account_id   TEXT    NOT NULL,
    resource_id  TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, resource_id)
);
