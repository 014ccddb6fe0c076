//! The schema, as ordered migrations. Both backends share the table definitions; only column
//! types and the append-only trigger differ. Each column states its data category, and a test
//! checks that none is left without one.

/// The tables, with `{int}` for a 64-bit integer and `{serial}` for the ledger's sequence.
const TABLES_V1: &str = r#"
CREATE TABLE subjects (
    id TEXT PRIMARY KEY,          -- category: customer_number (the operator's id of the person)
    email TEXT,                   -- category: contact; cleared on erasure
    created_at_us {int} NOT NULL, -- category: none (time)
    erased_at_us {int}            -- category: none (time)
);
CREATE TABLE ledger (
    seq {serial},                 -- category: none (ledger position)
    subject TEXT NOT NULL,        -- category: customer_number
    at_us {int} NOT NULL,         -- category: none (time)
    kind TEXT NOT NULL,           -- category: none (event kind)
    body TEXT NOT NULL,           -- category: none (purpose, channel, scope: no free text)
    policy_version TEXT NOT NULL, -- category: none
    idempotency_key TEXT UNIQUE,  -- category: none (client-chosen key)
    request_hash TEXT             -- category: none (fingerprint)
);
CREATE INDEX ledger_by_subject ON ledger (subject, seq);
CREATE TABLE ledger_personal (
    seq {int} PRIMARY KEY REFERENCES ledger (seq), -- category: none
    evidence TEXT,                -- category: service_interaction; cleared on erasure
    reason TEXT                   -- category: service_interaction; cleared on erasure
);
"#;

const SQLITE_APPEND_ONLY: &str = r#"
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"#;

const POSTGRES_APPEND_ONLY: &str = r#"
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$;
CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"#;

pub fn sqlite() -> Vec<(i64, String)> {
    let tables = TABLES_V1
        .replace("{int}", "INTEGER")
        .replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT");
    vec![(1, tables + SQLITE_APPEND_ONLY)]
}

pub fn postgres() -> Vec<(i64, String)> {
    let tables = TABLES_V1
        .replace("{int}", "BIGINT")
        .replace("{serial}", "BIGSERIAL PRIMARY KEY");
    vec![(1, tables + POSTGRES_APPEND_ONLY)]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_column_states_its_data_category() {
        let mut columns = 0;
        let mut in_table = false;
        for line in super::TABLES_V1.lines() {
            let l = line.trim();
            if l.starts_with("CREATE TABLE") {
                in_table = true;
            } else if l.starts_with(");") {
                in_table = false;
            } else if in_table && !l.is_empty() {
                columns += 1;
                assert!(l.contains("-- category: "), "column without category: {l}");
            }
        }
        assert_eq!(columns, 15);
    }

    #[test]
    fn no_placeholder_is_left() {
        for (_, sql) in super::sqlite().iter().chain(&super::postgres()) {
            assert!(!sql.contains('{'), "{sql}");
        }
    }
}
