-- The read models of migration 2 (evaluation_keys, account_latest) are
-- written by the store in Go (readmodel.go), in the transaction that writes
-- the evaluations and scan accounts they derive from. The triggers that kept
-- them by parsing keys_json go; the rows they wrote stay, as the Go code
-- writes the same.
DROP TRIGGER evaluation_keys_insert;
DROP TRIGGER evaluation_keys_update;
DROP TRIGGER evaluation_keys_delete;
DROP TRIGGER account_latest_insert;
