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

/// Snapshots of the in-memory decision states, so that a server starts without folding the
/// whole ledger. A cache: it can be dropped at any time and is rebuilt from the ledger.
const TABLES_V2: &str = r#"
CREATE TABLE state_snapshots (
    policy_version TEXT NOT NULL, -- category: none (the policy whose bit layout the states use)
    chunk {int} NOT NULL,         -- category: none (position of the chunk)
    up_to_seq {int} NOT NULL,     -- category: none (ledger position the states include)
    data {blob} NOT NULL,         -- category: customer_number (ids with their decision states)
    PRIMARY KEY (policy_version, chunk)
);
"#;

/// Data subject requests: the request, its append-only event ledger with free text kept apart,
/// one-time codes (hashes only), the steps of fulfilment and the results handed out.
const TABLES_V3: &str = r#"
CREATE TABLE requests (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    type TEXT NOT NULL,           -- category: none
    status TEXT NOT NULL,         -- category: none
    subject TEXT,                 -- category: customer_number
    email TEXT,                   -- category: contact; cleared when the request's data expires
    channel TEXT NOT NULL,        -- category: none (api, email, privacy_center, letter, phone)
    received_at_us {int} NOT NULL, -- category: none (time)
    due_at_us {int} NOT NULL,     -- category: none (time)
    extended_months {int} NOT NULL, -- category: none
    verification TEXT,            -- category: none (code or agent)
    details TEXT,                 -- category: service_interaction (the request in the person's words); cleared when it expires
    version {int} NOT NULL,       -- category: none (optimistic concurrency)
    updated_at_us {int} NOT NULL, -- category: none (time)
    purge_at_us {int},            -- category: none (when e-mail, details and notes go)
    idempotency_key TEXT UNIQUE   -- category: none (client-chosen key)
);
CREATE INDEX requests_by_status ON requests (status, due_at_us);
CREATE INDEX requests_by_purge ON requests (purge_at_us);
CREATE TABLE request_events (
    seq {serial},                 -- category: none (ledger position)
    request_id TEXT NOT NULL,     -- category: none
    at_us {int} NOT NULL,         -- category: none (time)
    actor TEXT NOT NULL,          -- category: none (operator, agent or system id)
    kind TEXT NOT NULL,           -- category: none (transition)
    body TEXT NOT NULL            -- category: none (status, months, verification: no free text)
);
CREATE INDEX request_events_by_request ON request_events (request_id, seq);
CREATE TABLE request_notes (
    seq {int} PRIMARY KEY,        -- category: none
    note TEXT                     -- category: service_interaction (reasons, agent notes); cleared when the request's data expires
);
CREATE TABLE request_codes (
    request_id TEXT PRIMARY KEY,  -- category: none
    salt TEXT NOT NULL,           -- category: none
    code_hash TEXT NOT NULL,      -- category: none (HMAC of salt and one-time code under the server's key; issue 30)
    expires_at_us {int} NOT NULL, -- category: none (time)
    attempts {int} NOT NULL,      -- category: none
    locked {int} NOT NULL         -- category: none
);
CREATE TABLE request_steps (
    request_id TEXT NOT NULL,     -- category: none
    step TEXT NOT NULL,           -- category: none (what the step does and where)
    status TEXT NOT NULL,         -- category: none (pending, done, failed)
    attempts {int} NOT NULL,      -- category: none
    last_error TEXT,              -- category: none (error kind, never data)
    next_at_us {int},             -- category: none (time of the next try)
    output TEXT,                  -- category: every category of the person (collected data); cleared when it expires
    PRIMARY KEY (request_id, step)
);
CREATE TABLE request_results (
    request_id TEXT NOT NULL,     -- category: none
    format TEXT NOT NULL,         -- category: none (json, html, zip)
    content {blob} NOT NULL,      -- category: every category of the person (report, export)
    created_at_us {int} NOT NULL, -- category: none (time)
    expires_at_us {int} NOT NULL, -- category: none (time)
    PRIMARY KEY (request_id, format)
);
"#;

/// Risk checks (N11–N15): the facts, the score and its reasons, whether a credit agency was
/// asked and what it said, the human review of a decline. Kept one year (N15), then deleted.
const TABLES_V4: &str = r#"
CREATE TABLE risk_checks (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    subject TEXT NOT NULL,        -- category: customer_number
    created_at_us {int} NOT NULL, -- category: none (time)
    expires_at_us {int} NOT NULL, -- category: none (time: one year later, N15)
    outcome TEXT NOT NULL,        -- category: risk_result (accept, refer, decline)
    review TEXT,                  -- category: none (pending, accepted, declined)
    probability {real} NOT NULL,  -- category: risk_result
    points {real} NOT NULL,       -- category: risk_result
    reasons TEXT NOT NULL,        -- category: risk_result (features that cost points)
    facts TEXT NOT NULL,          -- category: identity, contract, payment, revenue (the inputs)
    agency_queried {int} NOT NULL, -- category: none
    agency_answer TEXT,           -- category: risk_result (what the agency said)
    decision TEXT NOT NULL,       -- category: none (the decision engine's answer for risk_check)
    reviewer TEXT,                -- category: none (agent id)
    review_note TEXT,             -- category: service_interaction
    reviewed_at_us {int},         -- category: none (time)
    model TEXT NOT NULL           -- category: none (model file hash)
);
CREATE INDEX risk_checks_by_subject ON risk_checks (subject);
CREATE INDEX risk_checks_by_expiry ON risk_checks (expires_at_us);
"#;

/// The disclosure log (N26–N28, Art. 15(1)(c), Art. 19): every disclosure of a person's data
/// to a recipient, allowed or refused, with its basis and, for authorities, a legal bar on
/// telling the person.
const TABLES_V5: &str = r#"
CREATE TABLE disclosures (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    subject TEXT NOT NULL,        -- category: customer_number
    at_us {int} NOT NULL,         -- category: none (time)
    recipient TEXT NOT NULL,      -- category: none (recipient id of the policy)
    purpose TEXT NOT NULL,        -- category: none (purpose id)
    categories TEXT NOT NULL,     -- category: none (category ids, JSON)
    country TEXT,                 -- category: none (ISO 3166 code)
    allowed {int} NOT NULL,       -- category: none
    legal_basis TEXT,             -- category: none (DPV id)
    reason TEXT NOT NULL,         -- category: none (reason code of the decision)
    reference TEXT,               -- category: service_interaction (court order, file number)
    bar_reason TEXT,              -- category: none (the legal bar on informing the person)
    bar_until_us {int},           -- category: none (time)
    bar_lifted_at_us {int}        -- category: none (time)
);
CREATE INDEX disclosures_by_subject ON disclosures (subject, at_us);
"#;

/// The notice archive: every policy version a server loaded, with the notice rendered from it
/// in both languages, so a person's page and report can show what they were told (N33).
const TABLES_V6: &str = r#"
CREATE TABLE policy_versions (
    hash TEXT PRIMARY KEY,        -- category: none (SHA-256 of the policy sources)
    policy_id TEXT NOT NULL,      -- category: none
    notice_version TEXT NOT NULL, -- category: none (e.g. 2026-01, N33)
    first_loaded_at_us {int} NOT NULL, -- category: none (time)
    activated_by TEXT NOT NULL,   -- category: none (operator or `serve`)
    notice_de_html TEXT NOT NULL, -- category: none (the rendered notice)
    notice_en_html TEXT NOT NULL, -- category: none
    notice_de_md TEXT NOT NULL,   -- category: none
    notice_en_md TEXT NOT NULL    -- category: none
);
"#;

/// The web pages: operator accounts of the console, sessions of people and operators (the
/// cookie only as its hash) and pending sign-ins of people (the code only salted and hashed).
const TABLES_V7: &str = r#"
CREATE TABLE operators (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    name TEXT NOT NULL UNIQUE,    -- category: identity (the operator's sign-in name)
    role TEXT NOT NULL,           -- category: none (dpo, agent, auditor)
    password_hash TEXT NOT NULL,  -- category: none (argon2id)
    totp_secret TEXT NOT NULL,    -- category: none (the second factor's shared secret)
    totp_last_step {int} NOT NULL, -- category: none (replay guard)
    created_at_us {int} NOT NULL, -- category: none (time)
    disabled_at_us {int}          -- category: none (time)
);
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,     -- category: none (SHA-256 of the cookie)
    kind TEXT NOT NULL,           -- category: none (person or operator)
    principal TEXT NOT NULL,      -- category: customer_number (the person) or operator id
    csrf TEXT NOT NULL,           -- category: none (form token)
    created_at_us {int} NOT NULL, -- category: none (time)
    expires_at_us {int} NOT NULL  -- category: none (time)
);
CREATE TABLE signin_codes (
    id TEXT PRIMARY KEY,          -- category: none (random id of the pending sign-in)
    subject TEXT NOT NULL,        -- category: customer_number
    salt TEXT NOT NULL,           -- category: none
    code_hash TEXT NOT NULL,      -- category: none (SHA-256 of salt and code)
    expires_at_us {int} NOT NULL, -- category: none (time)
    attempts {int} NOT NULL,      -- category: none
    locked {int} NOT NULL         -- category: none
);
"#;

/// Policy activations: versions asked to take effect now or later, with their files, and the
/// outcome (N33: the policy over time).
const TABLES_V8: &str = r#"
CREATE TABLE policy_activations (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    hash TEXT NOT NULL,           -- category: none (policy version)
    notice_version TEXT NOT NULL, -- category: none
    sources TEXT NOT NULL,        -- category: none (the policy files, JSON)
    root TEXT NOT NULL,           -- category: none (the file the policy starts from)
    effective_at_us {int} NOT NULL, -- category: none (time)
    requested_by TEXT NOT NULL,   -- category: none (operator id or cli)
    requested_at_us {int} NOT NULL, -- category: none (time)
    status TEXT NOT NULL,         -- category: none (scheduled, active, superseded, refused, cancelled)
    decided_at_us {int},          -- category: none (time)
    error TEXT                    -- category: none (why a version was refused)
);
"#;

/// AI call summaries (N24): a draft visible only to the agent who had the call, stored as
/// service history only once that agent reviewed it; drafts expire unreviewed.
const TABLES_V9: &str = r#"
CREATE TABLE call_summaries (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    subject TEXT NOT NULL,        -- category: customer_number
    call_id TEXT NOT NULL UNIQUE, -- category: none (the telephony system's id of the call)
    agent TEXT NOT NULL,          -- category: none (operator id of the agent who had the call)
    draft TEXT,                   -- category: service_interaction (the AI's draft; cleared on review or expiry)
    text TEXT,                    -- category: service_interaction (the reviewed summary)
    status TEXT NOT NULL,         -- category: none (draft, approved, edited, rejected, expired)
    created_at_us {int} NOT NULL, -- category: none (time)
    expires_at_us {int} NOT NULL, -- category: none (time)
    reviewed_at_us {int},         -- category: none (time)
    reviewed_by TEXT              -- category: none (operator id)
);
CREATE INDEX call_summaries_by_agent ON call_summaries (agent, status);
CREATE INDEX call_summaries_by_subject ON call_summaries (subject);
"#;

// Per-call consents (N23) are read back at start by time, also when a snapshot covers them.
const INDEX_V10: &str = r#"
CREATE INDEX ledger_call_consents ON ledger (at_us)
    WHERE kind IN ('call_consent_given', 'call_consent_withdrawn', 'erased');
"#;

// The verifiable log (issue 10): leaves in tree order and signed tree heads. Both append-only.
const TABLES_V11: &str = r#"
CREATE TABLE log_leaves (
    idx {int} PRIMARY KEY,        -- category: none (leaf index from 0)
    source TEXT NOT NULL,         -- category: none (ledger or request)
    source_seq {int} NOT NULL,    -- category: none (the row's sequence number)
    leaf_hash {blob} NOT NULL,    -- category: none (SHA-256 of the row's content without personal attributes)
    UNIQUE (source, source_seq)
);
CREATE TABLE log_heads (
    size {int} PRIMARY KEY,       -- category: none (tree size)
    root {blob} NOT NULL,         -- category: none (tree hash)
    at_us {int} NOT NULL,         -- category: none (time)
    key_id TEXT NOT NULL,         -- category: none (the signing key's id)
    signature {blob} NOT NULL     -- category: none (Ed25519)
);
"#;

// Encryption at rest (issue 10): the subject's e-mail is sealed, so searches go through a keyed
// blind index of it.
const COLUMNS_V12: &str = r#"
ALTER TABLE subjects ADD COLUMN email_index TEXT; -- category: none (keyed HMAC of the e-mail address; cleared on erasure)
CREATE INDEX subjects_by_email_index ON subjects (email_index);
"#;

// Disclosures and operator actions as rows of their own (issue 10), so that the verifiable log
// holds them as leaves. Append-only, like the ledgers.
const TABLES_V13: &str = r#"
CREATE TABLE audit_events (
    seq {serial},                 -- category: none (position)
    at_us {int} NOT NULL,         -- category: none (time)
    actor TEXT NOT NULL,          -- category: none (operator id, `api`, `cli` or `system`)
    kind TEXT NOT NULL,           -- category: none (what was done)
    object TEXT NOT NULL,         -- category: none (the record's id)
    subject TEXT,                 -- category: customer_number (the person concerned, if any)
    body TEXT NOT NULL            -- category: none (JSON of ids, outcomes and counts: no free text)
);
"#;

// The hash of every complete, aligned subtree of the log above the leaves, so that heads and
// proofs read O(log n) rows (issue 10). Derived from the leaves; `tutela log verify` checks them.
const TABLES_V14: &str = r#"
CREATE TABLE log_nodes (
    level {int} NOT NULL,         -- category: none (height above the leaves, from 1)
    idx {int} NOT NULL,           -- category: none (position at that height)
    hash {blob} NOT NULL,         -- category: none (SHA-256 node hash)
    PRIMARY KEY (level, idx)
);
"#;

// Offboarding (issue 32): a removed operator stays as a tombstone (id, name and role kept, the
// credentials wiped), so that the audit trail still names who did what.
const COLUMNS_V22: &str = r#"
ALTER TABLE operators ADD COLUMN removed_at_us {int}; -- category: none (time)
"#;

/// Triggers that refuse updates and deletes on an append-only `table` in SQLite; `what` names
/// it in the error.
/// Pseudonymised datasets (N7b): where each is, for which purpose, under which key, and when
/// the retention rule of its purpose says it must be gone.
const TABLES_V15: &str = r#"
CREATE TABLE pseudonymised_datasets (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    purpose TEXT NOT NULL,        -- category: none (a purpose of the policy)
    domain TEXT NOT NULL,         -- category: none (the pseudonymisation domain)
    location TEXT NOT NULL,       -- category: none (a path of pseudonymised data)
    columns TEXT NOT NULL,        -- category: none (column=method pairs)
    key_id TEXT NOT NULL,         -- category: none (the pseudonymisation key's id, never the key)
    row_count {int} NOT NULL,     -- category: none (count)
    created_at_us {int} NOT NULL, -- category: none (time)
    expires_at_us {int} NOT NULL, -- category: none (time)
    deleted_at_us {int},          -- category: none (time)
    error TEXT                    -- category: none (why the last deletion failed)
);
CREATE INDEX pseudonymised_datasets_by_expiry ON pseudonymised_datasets (expires_at_us);
"#;

/// Legal holds (N5a) that suspend retention deletion, and the sweeps of the retention engine
/// with the cursor each table has reached, so a sweep resumes where a crash left it.
const TABLES_V16: &str = r#"
CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    subject TEXT,                 -- category: customer_number (a held person)
    dataset TEXT,                 -- category: none (a dataset map id)
    table_name TEXT,              -- category: none (a mapped table)
    record_key TEXT,              -- category: none (a row key of the operator's database)
    reference TEXT NOT NULL,      -- category: none (the case or claim reference, no free text)
    placed_by TEXT NOT NULL,      -- category: none (operator id)
    placed_at_us {int} NOT NULL,  -- category: none (time)
    lifted_by TEXT,               -- category: none (operator id)
    lifted_at_us {int}            -- category: none (time)
);
CREATE INDEX legal_holds_by_subject ON legal_holds (subject);
CREATE TABLE retention_sweeps (
    id TEXT PRIMARY KEY,          -- category: none (random id)
    plan_day TEXT NOT NULL,       -- category: none (the day the cutoffs were computed for)
    started_at_us {int} NOT NULL, -- category: none (time)
    finished_at_us {int},         -- category: none (time)
    open_flag {int},              -- category: none (1 while unfinished: at most one such row)
    owner TEXT,                   -- category: none (the process holding the lease)
    lease_until_us {int},         -- category: none (time)
    progress TEXT NOT NULL,       -- category: none (per table: rule, cutoff, cursor, counts)
    error TEXT                    -- category: none (why the last step failed)
);
CREATE UNIQUE INDEX retention_sweeps_one_open ON retention_sweeps (open_flag);
"#;

const TABLES_V17: &str = r#"
CREATE TABLE privacy_budgets (
    dataset_id TEXT PRIMARY KEY,            -- category: none (a registered dataset's id)
    epsilon_spent_micros {int} NOT NULL,    -- category: none (privacy loss spent, millionths)
    delta_spent_picos {int} NOT NULL,       -- category: none (delta spent, units of 1e-12)
    releases {int} NOT NULL                 -- category: none (noisy releases made)
);
"#;

/// Leases on background work that one instance of several runs at a time.
const TABLES_V18: &str = r#"
CREATE TABLE leases (
    name TEXT PRIMARY KEY,        -- category: none (the work: request_worker, log_sealer)
    owner TEXT NOT NULL,          -- category: none (the instance holding it)
    until_us {int} NOT NULL       -- category: none (time the lease lapses)
);
"#;

/// Sign-in secrets hashed and keyed (issue 30): the pending sign-in is found by the SHA-256 of
/// its cookie, its code is derived and checked with the server's HMAC key (a file outside the
/// database), and the row is the durable outbox of its mail. Pending sign-ins live minutes:
/// the old table, with plain pending ids and unkeyed hashes, is dropped with them. Rate limits
/// are counted here so that they hold across restarts and instances.
const TABLES_V19: &str = r#"
DROP TABLE signin_codes;
CREATE TABLE signin_codes (
    id_hash TEXT PRIMARY KEY,     -- category: none (SHA-256 of the pending sign-in's cookie)
    subject TEXT,                 -- category: customer_number (none for an address not on file)
    salt TEXT NOT NULL,           -- category: none (random; the code is derived from it with the server's HMAC key)
    code_hash TEXT NOT NULL,      -- category: none (HMAC of the code under the server's key)
    expires_at_us {int} NOT NULL, -- category: none (time)
    attempts {int} NOT NULL,      -- category: none (codes tried)
    mail_due_us {int},            -- category: none (time the code's mail is due; none once sent, or when no mail goes)
    mail_lease_us {int}           -- category: none (time an instance's claim on sending the mail lapses)
);
CREATE INDEX signin_codes_mail_due ON signin_codes (mail_due_us);
CREATE TABLE rate_limits (
    key_hash TEXT PRIMARY KEY,    -- category: none (HMAC under the server's key of what is counted: a client address, an e-mail address, an operator name)
    window_start_us {int} NOT NULL, -- category: none (time)
    expires_at_us {int} NOT NULL, -- category: none (time the window ends)
    hits {int} NOT NULL           -- category: none (attempts in the window)
);
"#;

/// `ledger_personal` is append-only like the ledger (issue 30), with one exception: a row may be
/// deleted, or its values moved to the person's retained key, once its person's erasure is in
/// the ledger after it. So erasure (crypto-shredding and the legal-duty exception) keeps
/// working, and any other change of a consent's evidence or an objection's reason is refused.
const SQLITE_PERSONAL_APPEND_ONLY_V20: &str = r#"
CREATE TRIGGER ledger_personal_no_update BEFORE UPDATE ON ledger_personal
WHEN NEW.seq IS NOT OLD.seq
    OR NOT EXISTS (SELECT 1 FROM ledger l JOIN ledger e ON e.subject = l.subject
                   WHERE l.seq = OLD.seq AND e.kind = 'erased' AND e.seq > OLD.seq)
    OR (NEW.evidence IS NOT NULL AND NEW.evidence NOT LIKE 'tv_:r:%')
    OR (NEW.reason IS NOT NULL AND NEW.reason NOT LIKE 'tv_:r:%')
BEGIN SELECT RAISE(ABORT, 'ledger_personal is append-only: it changes only at its person''s erasure'); END;
CREATE TRIGGER ledger_personal_no_delete BEFORE DELETE ON ledger_personal
WHEN NOT EXISTS (SELECT 1 FROM ledger l JOIN ledger e ON e.subject = l.subject
                 WHERE l.seq = OLD.seq AND e.kind = 'erased' AND e.seq > OLD.seq)
BEGIN SELECT RAISE(ABORT, 'ledger_personal is append-only: it changes only at its person''s erasure'); END;
"#;

const POSTGRES_PERSONAL_APPEND_ONLY_V20: &str = r#"
CREATE FUNCTION ledger_personal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger l JOIN ledger e ON e.subject = l.subject
               WHERE l.seq = OLD.seq AND e.kind = 'erased' AND e.seq > OLD.seq) THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        IF NEW.seq = OLD.seq
            AND (NEW.evidence IS NULL OR NEW.evidence LIKE 'tv_:r:%')
            AND (NEW.reason IS NULL OR NEW.reason LIKE 'tv_:r:%') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'ledger_personal is append-only: it changes only at its person''s erasure';
END $$;
CREATE TRIGGER ledger_personal_no_change BEFORE UPDATE OR DELETE ON ledger_personal
FOR EACH ROW EXECUTE FUNCTION ledger_personal_append_only();
"#;

fn sqlite_append_only(table: &str, what: &str) -> String {
    format!(
        "\nCREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}\n\
         BEGIN SELECT RAISE(ABORT, '{what} is append-only'); END;\n\
         CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}\n\
         BEGIN SELECT RAISE(ABORT, '{what} is append-only'); END;\n"
    )
}

/// The same in PostgreSQL, with the function the ledger's migration creates.
fn postgres_append_only(table: &str) -> String {
    format!(
        "\nCREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}\n\
         FOR EACH ROW EXECUTE FUNCTION ledger_append_only();\n"
    )
}

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

fn sqlite_types(sql: &str) -> String {
    sql.replace("{int}", "INTEGER")
        .replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
        .replace("{blob}", "BLOB")
        .replace("{real}", "REAL")
}

fn postgres_types(sql: &str) -> String {
    sql.replace("{int}", "BIGINT")
        .replace("{serial}", "BIGSERIAL PRIMARY KEY")
        .replace("{blob}", "BYTEA")
        .replace("{real}", "DOUBLE PRECISION")
}

pub fn sqlite() -> Vec<(i64, String)> {
    vec![
        (1, sqlite_types(TABLES_V1) + SQLITE_APPEND_ONLY),
        (2, sqlite_types(TABLES_V2)),
        (
            3,
            sqlite_types(TABLES_V3) + &sqlite_append_only("request_events", "the request ledger"),
        ),
        (4, sqlite_types(TABLES_V4)),
        (5, sqlite_types(TABLES_V5)),
        (6, sqlite_types(TABLES_V6)),
        (7, sqlite_types(TABLES_V7)),
        (8, sqlite_types(TABLES_V8)),
        (9, sqlite_types(TABLES_V9)),
        (10, INDEX_V10.to_owned()),
        (
            11,
            sqlite_types(TABLES_V11) + &sqlite_append_only("log_leaves", "the log"),
        ),
        (12, COLUMNS_V12.to_owned()),
        (
            13,
            sqlite_types(TABLES_V13) + &sqlite_append_only("audit_events", "the audit log"),
        ),
        (
            14,
            sqlite_types(TABLES_V14) + &sqlite_append_only("log_nodes", "the log"),
        ),
        (15, sqlite_types(TABLES_V15)),
        (16, sqlite_types(TABLES_V16)),
        (17, sqlite_types(TABLES_V17)),
        (18, sqlite_types(TABLES_V18)),
        (19, sqlite_types(TABLES_V19)),
        (20, SQLITE_PERSONAL_APPEND_ONLY_V20.to_owned()),
        // The signed heads are append-only like the leaves they sign (issue 30: only the leaves
        // and nodes were).
        (21, sqlite_append_only("log_heads", "the log")),
        (22, sqlite_types(COLUMNS_V22)),
    ]
}

pub fn postgres() -> Vec<(i64, String)> {
    vec![
        (1, postgres_types(TABLES_V1) + POSTGRES_APPEND_ONLY),
        (2, postgres_types(TABLES_V2)),
        (
            3,
            postgres_types(TABLES_V3) + &postgres_append_only("request_events"),
        ),
        (4, postgres_types(TABLES_V4)),
        (5, postgres_types(TABLES_V5)),
        (6, postgres_types(TABLES_V6)),
        (7, postgres_types(TABLES_V7)),
        (8, postgres_types(TABLES_V8)),
        (9, postgres_types(TABLES_V9)),
        (10, INDEX_V10.to_owned()),
        (
            11,
            postgres_types(TABLES_V11) + &postgres_append_only("log_leaves"),
        ),
        (12, COLUMNS_V12.to_owned()),
        (
            13,
            postgres_types(TABLES_V13) + &postgres_append_only("audit_events"),
        ),
        (
            14,
            postgres_types(TABLES_V14) + &postgres_append_only("log_nodes"),
        ),
        (15, postgres_types(TABLES_V15)),
        (16, postgres_types(TABLES_V16)),
        (17, postgres_types(TABLES_V17)),
        (18, postgres_types(TABLES_V18)),
        (19, postgres_types(TABLES_V19)),
        (20, POSTGRES_PERSONAL_APPEND_ONLY_V20.to_owned()),
        (21, postgres_append_only("log_heads")),
        (22, postgres_types(COLUMNS_V22)),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_column_states_its_data_category() {
        let mut columns = 0;
        let mut in_table = false;
        for line in [
            super::TABLES_V1,
            super::TABLES_V2,
            super::TABLES_V3,
            super::TABLES_V4,
            super::TABLES_V5,
            super::TABLES_V6,
            super::TABLES_V7,
            super::TABLES_V8,
            super::TABLES_V9,
            super::TABLES_V11,
            super::TABLES_V13,
            super::TABLES_V14,
            super::TABLES_V15,
            super::TABLES_V16,
            super::TABLES_V17,
            super::TABLES_V18,
            super::TABLES_V19,
        ]
        .iter()
        .flat_map(|t| t.lines())
        {
            let l = line.trim();
            if l.starts_with("CREATE TABLE") {
                in_table = true;
            } else if l.starts_with(");") {
                in_table = false;
            } else if in_table
                && !l.is_empty()
                && !l.starts_with("PRIMARY KEY")
                && !l.starts_with("UNIQUE")
            {
                columns += 1;
                assert!(l.contains("-- category: "), "column without category: {l}");
            }
        }
        assert_eq!(
            columns,
            19 + 41 + 17 + 14 + 9 + 21 + 11 + 11 + 9 + 7 + 3 + 11 + 19 + 4 + 3 + 12
        );
    }

    #[test]
    fn no_placeholder_is_left() {
        for (_, sql) in super::sqlite().iter().chain(&super::postgres()) {
            assert!(!sql.contains('{'), "{sql}");
        }
    }
}
