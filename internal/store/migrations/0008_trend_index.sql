-- The overview's compliance trend replays every history row (compliant
-- and non-compliant, issue 15): a covering index keeps it off the table's
-- wide rows (annotations).
CREATE INDEX evaluation_history_trend ON evaluation_history (at, from_compliance, to_compliance);
