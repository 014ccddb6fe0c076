//! The schema, per backend, as ordered migrations. Each column states its data category, and a
//! test checks that none is left without one.

/// (version, SQL) for SQLite.
pub const SQLITE: &[(i64, &str)] = &[(
    1,
    r#"
CREATE TABLE subjects (
    id TEXT PRIMARY KEY,          -- category: customer_number (the operator's id of the person)
    email TEXT,                   -- category: contact; cleared on erasure
    created_at_us INTEGER NOT NULL, -- category: none (time)
    erased_at_us INTEGER          -- category: none (time)
);
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- category: none (ledger position)
    subject TEXT NOT NULL,        -- category: customer_number
    at_us INTEGER NOT NULL,       -- category: none (time)
    kind TEXT NOT NULL,           -- category: none (event kind)
    body TEXT NOT NULL,           -- category: none (purpose, channel, scope: no free text)
    policy_version TEXT NOT NULL, -- category: none
    idempotency_key TEXT UNIQUE,  -- category: none (client-chosen key)
    request_hash TEXT             -- category: none (fingerprint)
);
CREATE INDEX ledger_by_subject ON ledger (subject, seq);
CREATE TABLE ledger_personal (
    seq INTEGER PRIMARY KEY REFERENCES ledger (seq), -- category: none
    evidence TEXT,                -- category: service_interaction; cleared on erasure
    reason TEXT                   -- category: service_interaction; cleared on erasure
);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"#,
)];

/// (version, SQL) for PostgreSQL.
pub const POSTGRES: &[(i64, &str)] = &[(
    1,
    r#"
CREATE TABLE subjects (
    id TEXT PRIMARY KEY,          -- category: customer_number (the operator's id of the person)
    email TEXT,                   -- category: contact; cleared on erasure
    created_at_us BIGINT NOT NULL, -- category: none (time)
    erased_at_us BIGINT           -- category: none (time)
);
CREATE TABLE ledger (
    seq BIGSERIAL PRIMARY KEY,    -- category: none (ledger position)
    subject TEXT NOT NULL,        -- category: customer_number
    at_us BIGINT NOT NULL,        -- category: none (time)
    kind TEXT NOT NULL,           -- category: none (event kind)
    body TEXT NOT NULL,           -- category: none (purpose, channel, scope: no free text)
    policy_version TEXT NOT NULL, -- category: none
    idempotency_key TEXT UNIQUE,  -- category: none (client-chosen key)
    request_hash TEXT             -- category: none (fingerprint)
);
CREATE INDEX ledger_by_subject ON ledger (subject, seq);
CREATE TABLE ledger_personal (
    seq BIGINT PRIMARY KEY REFERENCES ledger (seq), -- category: none
    evidence TEXT,                -- category: service_interaction; cleared on erasure
    reason TEXT                   -- category: service_interaction; cleared on erasure
);
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$;
CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"#,
)];

#[cfg(test)]
mod tests {
    #[test]
    fn every_column_states_its_data_category() {
        for (_, sql) in super::SQLITE.iter().chain(super::POSTGRES) {
            let mut in_table = false;
            for line in sql.lines() {
                let l = line.trim();
                if l.starts_with("CREATE TABLE") {
                    in_table = true;
                    continue;
                }
                if l.starts_with(");") {
                    in_table = false;
                    continue;
                }
                if in_table && !l.is_empty() {
                    assert!(l.contains("-- category: "), "column without category: {l}");
                }
            }
        }
    }
}
