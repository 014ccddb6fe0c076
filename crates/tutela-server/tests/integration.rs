//! tutela-server's integration tests, one binary: the decision scenarios through the API on
//! SQLite and PostgreSQL, the ledger endpoints, and bad input.

#![allow(
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers fail by panicking and say why they skip"
)]

mod access;
mod api_scenarios;
mod audiences;
mod bad_input;
mod center_words;
mod cluster;
mod console_plans;
mod console_report;
mod disclosures;
mod erasure_ends;
mod events;
mod fulfilment;
mod headers;
mod ledger;
mod linked_identifiers;
mod log;
mod offboarding;
mod operator_named;
mod pages;
mod plain_words;
mod plans;
mod pseudonyms;
mod rectification_rules;
mod redactions;
mod requests;
mod resolution;
mod retention;
mod risk;
mod signin;
mod smtp_sink;
mod statistics;
mod summaries;
mod support;
mod typed_steps;
mod versions;
mod worker_wake;
