//! The demo operator database that `policies/datasets/demo-operator.toml` maps: one schema
//! text that PostgreSQL, MariaDB/MySQL and SQLite all accept. Tests build it on each; `tutela
//! demo seed` fills it at scale.

/// Statements, one per element.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id BIGINT PRIMARY KEY, customer_no VARCHAR(32) NOT NULL, name VARCHAR(200), email VARCHAR(200), birth_date VARCHAR(10), street VARCHAR(200), city VARCHAR(100), created_at VARCHAR(32), restricted INTEGER NOT NULL DEFAULT 0)",
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
    "CREATE TABLE invoices (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, issued_at VARCHAR(32), amount_cents BIGINT, iban VARCHAR(34), restricted INTEGER NOT NULL DEFAULT 0, FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE INDEX invoices_by_customer ON invoices (customer_id)",
    "CREATE TABLE payments (id BIGINT PRIMARY KEY, invoice_id BIGINT NOT NULL, paid_at VARCHAR(32), amount_cents BIGINT, FOREIGN KEY (invoice_id) REFERENCES invoices (id))",
    "CREATE INDEX payments_by_invoice ON payments (invoice_id)",
    "CREATE TABLE tickets (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, opened_at VARCHAR(32), topic VARCHAR(100), summary VARCHAR(2000), FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE INDEX tickets_by_customer ON tickets (customer_id)",
];

/// The dataset map of the demo database.
pub const MAP: &str = include_str!("../../../policies/datasets/demo-operator.toml");
