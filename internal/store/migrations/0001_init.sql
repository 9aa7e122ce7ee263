-- keyage state, version 1. Times are Unix milliseconds (UTC).

CREATE TABLE scans (
    id              INTEGER PRIMARY KEY,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    evaluated_at    INTEGER NOT NULL,
    source          TEXT    NOT NULL,
    max_age         INTEGER NOT NULL,
    warn_age        INTEGER NOT NULL,
    status          TEXT    NOT NULL,          -- running, done, interrupted
    summary_json    TEXT
);

CREATE TABLE scan_accounts (
    scan_id         INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    account_id      TEXT    NOT NULL,
    name            TEXT    NOT NULL DEFAULT '',
    ou              TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    error           TEXT    NOT NULL DEFAULT '',
    users           INTEGER NOT NULL DEFAULT 0,
    root_keys_json  TEXT    NOT NULL DEFAULT '[]',
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, account_id)
);

-- The current evaluation of every resource, as of its last evaluation.
CREATE TABLE evaluations (
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
    PRIMARY KEY (account_id, resource_id)
);
CREATE INDEX evaluations_compliance ON evaluations (compliance, account_id);

-- Every compliance transition of a resource.
CREATE TABLE evaluation_history (
    id              INTEGER PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    user_name       TEXT    NOT NULL DEFAULT '',
    from_compliance TEXT    NOT NULL DEFAULT '',
    to_compliance   TEXT    NOT NULL,
    annotation      TEXT    NOT NULL DEFAULT '',
    at              INTEGER NOT NULL,
    scan_id         INTEGER
);
CREATE INDEX evaluation_history_resource ON evaluation_history (account_id, resource_id, at);

-- Remediation executions, one per (account, resource, rule), like AWS Config's
-- remediation execution status.
CREATE TABLE remediation_executions (
    id              INTEGER PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    rule            TEXT    NOT NULL,
    user_name       TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,           -- QUEUED, IN_PROGRESS, SUCCEEDED, FAILED
    attempts        INTEGER NOT NULL DEFAULT 0,
    steps_json      TEXT    NOT NULL DEFAULT '[]',
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (account_id, resource_id, rule)
);
CREATE INDEX remediation_executions_state ON remediation_executions (state);

-- Notifications to deliver: written in the same transaction as the decision
-- to send them, delivered at least once by the dispatcher.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,
    receiver        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    group_key       TEXT    NOT NULL,
    message_json    TEXT    NOT NULL,
    state           TEXT    NOT NULL,           -- PENDING, SENT, FAILED
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- Which executions a message serves: a digest (groupBy owner or account)
-- serves the executions of several resources.
CREATE TABLE outbox_executions (
    message_id      TEXT    NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    execution_id    INTEGER NOT NULL REFERENCES remediation_executions(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, execution_id)
);
CREATE INDEX outbox_executions_execution ON outbox_executions (execution_id);

-- What was last notified for each (receiver, route, item): de-duplication,
-- reminders and resolved notifications.
CREATE TABLE notify_state (
    receiver        TEXT    NOT NULL,
    route           INTEGER NOT NULL,
    item_key        TEXT    NOT NULL,           -- account/resourceId/accessKeyId
    account_id      TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    stage           TEXT    NOT NULL,
    notified_at     INTEGER NOT NULL,
    item_json       TEXT    NOT NULL,
    PRIMARY KEY (receiver, route, item_key)
);
CREATE INDEX notify_state_resource ON notify_state (account_id, resource_id);
