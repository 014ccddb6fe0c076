//! The demo operator database that `policies/datasets/demo-operator.toml` maps: one schema
//! text that PostgreSQL, MariaDB/MySQL and SQLite all accept. Tests build it on each; `tutela
//! demo seed` fills it at scale. The date of birth is a `DATE`, as operators keep it, so that
//! rectification and erasure write it as a date.

/// Statements, one per element.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id BIGINT PRIMARY KEY, customer_no VARCHAR(32) NOT NULL, name VARCHAR(200), email VARCHAR(200), birth_date DATE, street VARCHAR(200), city VARCHAR(100), created_at VARCHAR(32), restricted INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX customers_by_no ON customers (customer_no)",
    "CREATE INDEX customers_by_email ON customers (email)",
    "CREATE TABLE contact_persons (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, name VARCHAR(200), email VARCHAR(200), phone VARCHAR(40), FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE INDEX contact_persons_by_customer ON contact_persons (customer_id)",
    "CREATE TABLE contracts (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, product VARCHAR(100), started_at VARCHAR(32), ended_at VARCHAR(32), restricted INTEGER NOT NULL DEFAULT 0, FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE INDEX contracts_by_customer ON contracts (customer_id)",
    "CREATE TABLE sims (id BIGINT PRIMARY KEY, contract_id BIGINT NOT NULL, iccid VARCHAR(22), imsi VARCHAR(15), msisdn VARCHAR(20), FOREIGN KEY (contract_id) REFERENCES contracts (id))",
    "CREATE INDEX sims_by_contract ON sims (contract_id)",
    "CREATE INDEX sims_by_iccid ON sims (iccid)",
    "CREATE INDEX sims_by_imsi ON sims (imsi)",
    "CREATE INDEX sims_by_msisdn ON sims (msisdn)",
    "CREATE TABLE devices (id BIGINT PRIMARY KEY, sim_id BIGINT NOT NULL, imei VARCHAR(15), model VARCHAR(100), FOREIGN KEY (sim_id) REFERENCES sims (id))",
    "CREATE INDEX devices_by_sim ON devices (sim_id)",
    "CREATE INDEX devices_by_imei ON devices (imei)",
    "CREATE TABLE usage_records (id BIGINT PRIMARY KEY, sim_id BIGINT NOT NULL, recorded_at VARCHAR(32), bytes BIGINT, FOREIGN KEY (sim_id) REFERENCES sims (id))",
    "CREATE INDEX usage_records_by_sim ON usage_records (sim_id)",
    // Retention sweeps walk the tables whose rule runs from a timestamp in its order.
    "CREATE INDEX usage_records_by_time ON usage_records (recorded_at)",
    "CREATE TABLE invoices (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, issued_at VARCHAR(32), amount_cents BIGINT, iban VARCHAR(34), restricted INTEGER NOT NULL DEFAULT 0, FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE INDEX invoices_by_customer ON invoices (customer_id)",
    "CREATE INDEX invoices_by_issue ON invoices (issued_at)",
    "CREATE TABLE payments (id BIGINT PRIMARY KEY, invoice_id BIGINT NOT NULL, paid_at VARCHAR(32), amount_cents BIGINT, FOREIGN KEY (invoice_id) REFERENCES invoices (id))",
    "CREATE INDEX payments_by_invoice ON payments (invoice_id)",
    "CREATE INDEX payments_by_time ON payments (paid_at)",
    "CREATE TABLE tickets (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, opened_at VARCHAR(32), topic VARCHAR(100), summary VARCHAR(2000), FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE INDEX tickets_by_customer ON tickets (customer_id)",
];

/// The dataset map of the demo database.
pub const MAP: &str = include_str!("../../../policies/datasets/demo-operator.toml");

/// How many rows of each table `seed` writes per person, in load order.
pub const ROWS_PER_PERSON: &[(&str, f64)] = &[
    ("customers", 1.0),
    ("contact_persons", 0.5),
    ("contracts", 1.5),
    ("sims", 2.0),
    ("devices", 2.0),
    ("usage_records", 4.0),
    ("invoices", 6.0),
    ("payments", 5.0),
    ("tickets", 1.0),
];

/// The statements that fill the demo schema on PostgreSQL with `persons` customers and about
/// 23 rows per person, generated inside the database (`generate_series`), then index it.
/// Customer numbers are `C` and eight digits from `C00000001`; e-mail `p<n>@example.org`.
pub fn seed_postgres(persons: u64) -> Vec<String> {
    let n = persons.max(1);
    let count = |table: &str| -> u64 {
        ROWS_PER_PERSON
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, per)| (per * n as f64).round() as u64)
            .max(1)
    };
    let (contracts, sims) = (count("contracts"), count("sims"));
    let mut out: Vec<String> = SCHEMA
        .iter()
        .filter(|s| s.starts_with("CREATE TABLE"))
        .map(|s| (*s).to_owned())
        .collect();
    out.extend([
        format!("INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) \
                 SELECT g, 'C' || lpad(g::text, 8, '0'), 'Person ' || g, 'p' || g || '@example.org', \
                 date '1950-01-01' + (g % 20000), 'Straße ' || (g % 500), 'Stadt ' || (g % 100), \
                 (date '2010-01-01' + (g % 5000))::text FROM generate_series(1, {n}) g"),
        format!("INSERT INTO contact_persons (id, customer_id, name, email, phone) \
                 SELECT g, (g * 2 - 1) % {n} + 1, 'Contact ' || g, 'c' || g || '@example.org', '+49 228 ' || g \
                 FROM generate_series(1, {}) g", count("contact_persons")),
        format!("INSERT INTO contracts (id, customer_id, product, started_at, ended_at) \
                 SELECT g, (g - 1) % {n} + 1, 'IoT M2M ' || (g % 5 + 1) || 'GB', (date '2012-01-01' + (g % 4000))::text, \
                 CASE WHEN g % 3 = 0 THEN (date '2012-01-01' + (g % 4000) + 730)::text END \
                 FROM generate_series(1, {contracts}) g"),
        format!("INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) \
                 SELECT g, (g - 1) % {contracts} + 1, '8949' || lpad(g::text, 15, '0'), '26201' || lpad(g::text, 10, '0'), '4915' || lpad(g::text, 9, '0') \
                 FROM generate_series(1, {sims}) g"),
        format!("INSERT INTO devices (id, sim_id, imei, model) \
                 SELECT g, g, '35' || lpad(g::text, 13, '0'), 'Tracker T' || (g % 9) FROM generate_series(1, {}) g", count("devices")),
        format!("INSERT INTO usage_records (id, sim_id, recorded_at, bytes) \
                 SELECT g, (g - 1) % {sims} + 1, (timestamp '2026-01-01' + (g % 300) * interval '1 day')::text, g % 100000 \
                 FROM generate_series(1, {}) g", count("usage_records")),
        // Invoices spread over 2014-2025 however few persons are seeded (37 is prime to 4300),
        // so that some are still inside their 8 years and some past them.
        format!("INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) \
                 SELECT g, (g - 1) % {n} + 1, (date '2014-01-01' + (g * 37 % 4300))::text, 1000 + g % 9000, 'DE89370400440532013000' \
                 FROM generate_series(1, {}) g", count("invoices")),
        format!("INSERT INTO payments (id, invoice_id, paid_at, amount_cents) \
                 SELECT g, g, (date '2014-01-10' + (g * 37 % 4300))::text, 1000 + g % 9000 FROM generate_series(1, {}) g", count("payments")),
        format!("INSERT INTO tickets (id, customer_id, opened_at, topic, summary) \
                 SELECT g, (g - 1) % {n} + 1, (date '2020-01-01' + (g % 2000))::text, 'topic ' || (g % 12), 'summary of call ' || g \
                 FROM generate_series(1, {}) g", count("tickets")),
    ]);
    out.extend(
        SCHEMA
            .iter()
            .filter(|s| s.starts_with("CREATE INDEX"))
            .map(|s| (*s).to_owned()),
    );
    out.push("ANALYZE".to_owned());
    out
}
