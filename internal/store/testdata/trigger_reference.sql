-- The triggers that kept the read models up to date until migration 6
-- (migrations 0002 and 0004, verbatim but for the names), writing into
-- shadow tables: readmodel_test.go checks that the store's Go code writes
-- exactly what they did.

CREATE TABLE evaluation_keys_ref AS SELECT * FROM evaluation_keys WHERE 0;
CREATE TABLE account_latest_ref AS SELECT * FROM account_latest WHERE 0;
CREATE UNIQUE INDEX account_latest_ref_pk ON account_latest_ref (account_id);

CREATE TRIGGER ref_keys_insert AFTER INSERT ON evaluations BEGIN
    INSERT INTO evaluation_keys_ref (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
    SELECT NEW.account_id, NEW.resource_id, CAST(j.key AS INTEGER),
        COALESCE(json_extract(j.value, '$.accessKeyId'), ''), NEW.user_name, NEW.compliance, NEW.owner,
        COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
        COALESCE(json_extract(j.value, '$.ageDays'), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(json_extract(j.value, '$.lastUsedService'), '')
    FROM json_each(NEW.keys_json) j WHERE j.type = 'object';
END;

CREATE TRIGGER ref_keys_update AFTER UPDATE ON evaluations
WHEN OLD.keys_json IS NOT NEW.keys_json OR OLD.compliance IS NOT NEW.compliance OR OLD.owner IS NOT NEW.owner OR OLD.user_name IS NOT NEW.user_name
BEGIN
    DELETE FROM evaluation_keys_ref WHERE account_id = OLD.account_id AND resource_id = OLD.resource_id;
    INSERT INTO evaluation_keys_ref (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
    SELECT NEW.account_id, NEW.resource_id, CAST(j.key AS INTEGER),
        COALESCE(json_extract(j.value, '$.accessKeyId'), ''), NEW.user_name, NEW.compliance, NEW.owner,
        COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
        COALESCE(json_extract(j.value, '$.ageDays'), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(json_extract(j.value, '$.lastUsedService'), '')
    FROM json_each(NEW.keys_json) j WHERE j.type = 'object';
END;

CREATE TRIGGER ref_keys_delete AFTER DELETE ON evaluations BEGIN
    DELETE FROM evaluation_keys_ref WHERE account_id = OLD.account_id AND resource_id = OLD.resource_id;
END;

CREATE TRIGGER ref_account_insert AFTER INSERT ON scan_accounts BEGIN
    INSERT INTO account_latest_ref (account_id, name, ou, scan_id, status, error, users, root_keys_json, duration_ms, last_ok_scan_id)
    VALUES (NEW.account_id, NEW.name, NEW.ou, NEW.scan_id, NEW.status, NEW.error, NEW.users, NEW.root_keys_json, NEW.duration_ms,
        CASE WHEN NEW.status = 'ok' THEN NEW.scan_id END)
    ON CONFLICT (account_id) DO UPDATE SET
        name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE account_latest_ref.name END,
        ou = CASE WHEN excluded.ou <> '' THEN excluded.ou ELSE account_latest_ref.ou END,
        scan_id = excluded.scan_id, status = excluded.status, error = excluded.error,
        users = CASE WHEN excluded.status = 'ok' THEN excluded.users ELSE account_latest_ref.users END,
        root_keys_json = CASE WHEN excluded.status = 'ok' THEN excluded.root_keys_json ELSE account_latest_ref.root_keys_json END,
        duration_ms = excluded.duration_ms,
        last_ok_scan_id = COALESCE(excluded.last_ok_scan_id, account_latest_ref.last_ok_scan_id)
    WHERE excluded.scan_id >= account_latest_ref.scan_id;
END;
