-- The dashboard's counts kept as rows (issue 15, the first request after a
-- write): account_counts holds, per account, the users (evaluations of
-- AWS::IAM::User) by compliance (kind 'user') and the key rows by stage
-- (kind 'stage'); trend_days holds the compliance history's net changes per
-- UTC day. The store rewrites both in the transaction that writes the rows
-- they count (aggregates.go); Totals, the accounts and the trend read a few
-- hundred rows of them instead of every evaluation, key and history row.
CREATE TABLE account_counts (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, value)
) WITHOUT ROWID;
INSERT INTO account_counts (account_id, kind, value, n)
    SELECT account_id, 'user', compliance, COUNT(*) FROM evaluations WHERE resource_type = 'AWS::IAM::User' GROUP BY account_id, compliance;
INSERT INTO account_counts (account_id, kind, value, n)
    SELECT account_id, 'stage', stage, COUNT(*) FROM evaluation_keys GROUP BY account_id, stage;

-- Day d holds the history rows with (d-1)*86400000 < at <= d*86400000: the
-- trend's periods end at a UTC midnight, and a row at that instant counts
-- in the period it ends.
CREATE TABLE trend_days (
    day          INTEGER PRIMARY KEY,
    compliant    INTEGER NOT NULL,
    noncompliant INTEGER NOT NULL
);
INSERT INTO trend_days (day, compliant, noncompliant)
    SELECT (at + 86399999) / 86400000,
        SUM(to_compliance = 'COMPLIANT') - SUM(from_compliance = 'COMPLIANT'),
        SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT')
    FROM evaluation_history GROUP BY 1;
