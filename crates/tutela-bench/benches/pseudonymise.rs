//! `cargo bench -p tutela-bench --bench pseudonymise`: pseudonymisation on one core (issue 6).
//! HMAC pseudonyms per second, FF1 pseudonyms per identifier, and a usage-record CSV streamed
//! through the table pseudonymiser in 8 MiB chunks (in memory, so the disk is not measured),
//! next to the same pass with no column pseudonymised (what reading and copying costs).
//!
//! Environment: `TUTELA_BENCH_CSV_MB` (default 256), `TUTELA_BENCH_VALUES` (default 2,000,000).
//! With `TUTELA_BENCH_CSV_OUT=FILE` it writes the CSV there and stops (`bench/pseudonymise/run.sh`
//! runs the CLI, pandas and Presidio on that file).

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::hint::black_box;
use std::time::Instant;

use tutela_bench::{Rng, env, usage_csv, usage_record};
use tutela_core::pseudonym::table::{ColumnSpec, OnBadRow, TablePseudonymiser};
use tutela_core::pseudonym::{DomainPseudonyms, Identifier, Method, PseudonymKeys};

fn domain() -> DomainPseudonyms {
    PseudonymKeys::new("pk-bench", [42; 32])
        .domain("service_quality_analysis", None)
        .unwrap()
}

fn spec(column: &str, method: Method) -> ColumnSpec {
    ColumnSpec {
        column: column.to_owned(),
        method,
    }
}

/// MB/s of one pass over `csv`, fed in 8 MiB chunks as the CLI feeds a file.
fn table_pass(csv: &[u8], specs: &[ColumnSpec]) -> (f64, u64) {
    let started = Instant::now();
    let (mut t, header) = TablePseudonymiser::new(domain(), specs, csv).unwrap();
    let (mut out, mut rejects, mut errors) = (Vec::with_capacity(12 << 20), Vec::new(), Vec::new());
    let mut written = header as u64;
    let mut start = header;
    while start < csv.len() {
        let end = (start + (8 << 20)).min(csv.len());
        out.clear();
        let p = t
            .process(
                &csv[start..end],
                end == csv.len(),
                OnBadRow::Stop,
                &mut out,
                &mut rejects,
                &mut errors,
            )
            .unwrap();
        written += out.len() as u64;
        black_box(&out);
        start += p.consumed;
    }
    let secs = started.elapsed().as_secs_f64();
    (csv.len() as f64 / secs / 1e6, written)
}

fn main() {
    let mb = env("TUTELA_BENCH_CSV_MB", 256);
    if let Ok(path) = std::env::var("TUTELA_BENCH_CSV_OUT") {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(tutela_bench::USAGE_HEADER.as_bytes()).unwrap();
        let mut rng = Rng::new(2026);
        let (mut row, mut written, mut i) = (Vec::new(), 0usize, 0u64);
        while written < mb << 20 {
            row.clear();
            usage_record(&mut rng, i, &mut row);
            f.write_all(&row).unwrap();
            written += row.len();
            i += 1;
        }
        f.flush().unwrap();
        println!("wrote {path}: {i} records, {} MB", written >> 20);
        return;
    }

    let n = env("TUTELA_BENCH_VALUES", 2_000_000);
    let d = domain();
    let mut rng = Rng::new(7);
    let imsis: Vec<String> = (0..n)
        .map(|_| format!("26201{:010}", rng.next_u64() % 10_000_000_000))
        .collect();
    let mut out = Vec::with_capacity(64);
    for round in 1..=3 {
        let started = Instant::now();
        for v in &imsis {
            out.clear();
            d.hmac_into(v.as_bytes(), &mut out);
            black_box(&out);
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "round {round}: HMAC-SHA-256 pseudonyms: {:.0} ns each, {:.2} M/s on one core",
            secs * 1e9 / n as f64,
            n as f64 / secs / 1e6
        );
    }

    let csv = usage_csv(1 << 20, 3);
    let text = String::from_utf8(csv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let m = (n / 10).min(200_000);
    for (id, column) in [
        (Identifier::Imsi, 2),
        (Identifier::Iccid, 3),
        (Identifier::Msisdn, 4),
        (Identifier::Imei, 5),
    ] {
        let started = Instant::now();
        for i in 0..m {
            black_box(
                d.pseudonym(Method::Ff1(id), rows[i % rows.len()][column])
                    .unwrap(),
            );
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "FF1 {}: {:.0} ns each, {:.2} M/s",
            id.name(),
            secs * 1e9 / m as f64,
            m as f64 / secs / 1e6
        );
    }
    let started = Instant::now();
    for i in 0..m {
        black_box(
            d.pseudonym(
                Method::Ff1(Identifier::Iban),
                if i % 2 == 0 {
                    "DE89370400440532013000"
                } else {
                    "GB82WEST12345698765432"
                },
            )
            .unwrap(),
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "FF1 iban: {:.0} ns each, {:.2} M/s",
        secs * 1e9 / m as f64,
        m as f64 / secs / 1e6
    );

    let csv = usage_csv(mb << 20, 2026);
    let records = csv.iter().filter(|&&c| c == b'\n').count() - 1;
    println!("\nusage CSV: {} MB, {records} records", csv.len() >> 20);
    let configs: [(&str, Vec<ColumnSpec>); 3] = [
        ("no column (read and copy)", vec![]),
        (
            "imsi=hmac, msisdn=hmac",
            vec![spec("imsi", Method::Hmac), spec("msisdn", Method::Hmac)],
        ),
        (
            "imsi=ff1, msisdn=hmac",
            vec![
                spec("imsi", Method::Ff1(Identifier::Imsi)),
                spec("msisdn", Method::Hmac),
            ],
        ),
    ];
    for round in 1..=3 {
        for (name, specs) in &configs {
            let (rate, written) = table_pass(&csv, specs);
            println!(
                "round {round}: {name}: {rate:.0} MB/s ({} MB out)",
                written >> 20
            );
        }
    }
}
