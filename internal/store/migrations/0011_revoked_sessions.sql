-- Dashboard sessions logged out before their expiry (issue 13): a logout
-- revokes the session on the server, and the revocation survives a
-- restart. Only the SHA-256 of the session id is kept, until the session
-- would have expired (Prune deletes it then: the signed expiry refuses the
-- cookie from that moment on anyway).
CREATE TABLE revoked_sessions (
    id_sha256       TEXT    PRIMARY KEY,
    expires_at      INTEGER NOT NULL
) WITHOUT ROWID;
