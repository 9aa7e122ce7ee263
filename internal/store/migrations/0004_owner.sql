-- The owner of each evaluated user, as the config's owners section finds it
-- (owners.tagKey, else owners.template), written by keyage with the
-- evaluation; the dashboard's owner column and filter read it. Until the
-- next scan rewrites them, existing rows keep the "email" tag they showed.

ALTER TABLE evaluations ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE evaluations SET owner = COALESCE(json_extract(tags_json, '$.email'), '');

DROP INDEX evaluations_owner;
CREATE INDEX evaluations_owner ON evaluations (owner, account_id, resource_id);

DROP TRIGGER evaluation_keys_insert;
CREATE TRIGGER evaluation_keys_insert AFTER INSERT ON evaluations BEGIN
    INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
    SELECT NEW.account_id, NEW.resource_id, CAST(j.key AS INTEGER),
        COALESCE(json_extract(j.value, '$.accessKeyId'), ''), NEW.user_name, NEW.compliance, NEW.owner,
        COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
        COALESCE(json_extract(j.value, '$.ageDays'), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(json_extract(j.value, '$.lastUsedService'), '')
    FROM json_each(NEW.keys_json) j WHERE j.type = 'object';
END;

DROP TRIGGER evaluation_keys_update;
CREATE TRIGGER evaluation_keys_update AFTER UPDATE ON evaluations
WHEN OLD.keys_json IS NOT NEW.keys_json OR OLD.compliance IS NOT NEW.compliance OR OLD.owner IS NOT NEW.owner OR OLD.user_name IS NOT NEW.user_name
BEGIN
    DELETE FROM evaluation_keys WHERE account_id = OLD.account_id AND resource_id = OLD.resource_id;
    INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)
    SELECT NEW.account_id, NEW.resource_id, CAST(j.key AS INTEGER),
        COALESCE(json_extract(j.value, '$.accessKeyId'), ''), NEW.user_name, NEW.compliance, NEW.owner,
        COALESCE(json_extract(j.value, '$.status'), ''), COALESCE(json_extract(j.value, '$.stage'), ''),
        COALESCE(json_extract(j.value, '$.ageDays'), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.createDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(CAST(round(unixepoch(json_extract(j.value, '$.lastUsedDate'), 'subsec') * 1000) AS INTEGER), 0),
        COALESCE(json_extract(j.value, '$.lastUsedService'), '')
    FROM json_each(NEW.keys_json) j WHERE j.type = 'object';
END;
