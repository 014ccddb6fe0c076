//! `tutela policy check`: every error names file, line and column, what is wrong and the fix;
//! no input makes the loader panic.

use tutela_core::policy::{MemoryLoader, load_policy};

use crate::support::{REFERENCE, errors_of};

/// The reference policy with one text replaced; the replacement must happen.
fn broken(from: &str, to: &str) -> String {
    assert!(REFERENCE.contains(from), "fixture text `{from}` not found");
    REFERENCE.replacen(from, to, 1)
}

/// Line of the first occurrence of `needle` in `text`, from 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(0, |i| text[..i].matches('\n').count() + 1)
}

#[test]
fn the_reference_policy_is_valid() {
    assert_eq!(errors_of(REFERENCE), "");
}

#[test]
fn unknown_category_in_a_purpose_names_file_line_and_column() {
    let text = broken(
        "categories = [\"customer_number\", \"usage\", \"traffic\", \"device\"]",
        "categories = [\"customer_number\", \"usage\", \"trafic\", \"device\"]",
    );
    let err = errors_of(&text);
    let line = line_of(&text, "\"trafic\"");
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("unknown category `trafic`"),
        "{err}"
    );
    assert!(err.contains("help:") && err.contains("traffic"), "{err}");
}

#[test]
fn duplicate_id_points_at_both_definitions() {
    let text = broken("id = \"pre_contract\"", "id = \"contract_performance\"");
    let err = errors_of(&text);
    assert!(
        err.contains("duplicate purpose id `contract_performance`"),
        "{err}"
    );
    assert!(err.contains("first defined at bad.toml:"), "{err}");
}

#[test]
fn unknown_legal_basis_is_named() {
    let text = broken(
        "legal_basis = \"eu-gdpr:A6-1-e\"",
        "legal_basis = \"eu-gdpr:A6-1-z\"",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("unknown legal basis `eu-gdpr:A6-1-z`"),
        "{err}"
    );
    assert!(
        err.contains("eu-gdpr:A6-4"),
        "the help lists the valid ids: {err}"
    );
}

#[test]
fn bad_duration_is_explained() {
    let text = broken("period = \"P3M\"", "period = \"3 months\"");
    let err = errors_of(&text);
    let line = line_of(&text, "3 months");
    assert!(err.contains(&format!("bad.toml:{line}:10:")), "{err}");
    assert!(
        err.contains("bad duration `3 months`") && err.contains("P3M"),
        "{err}"
    );
}

#[test]
fn consent_purpose_with_nothing_to_withdraw_is_refused() {
    // Consent next to a basis that always holds: a withdrawal would change nothing.
    let text = broken(
        "legal_basis = \"eu-gdpr:A6-1-a\"\nexplicit = true\nnotice_ref = [\"N23\"]",
        "legal_basis = \"eu-gdpr:A6-1-a\"\nexplicit = true\nnotice_ref = [\"N23\"]\n[[purpose.basis]]\nlegal_basis = \"eu-gdpr:A6-1-c\"",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("consent purpose `call_recording` has nothing to withdraw"),
        "{err}"
    );
    // Consent per channel with no channel: nothing to withdraw either.
    let text = broken("channels = [\"phone\"]\n", "channels = []\n");
    let err = errors_of(&text);
    assert!(
        err.contains("consent purpose `phone_marketing` has nothing to withdraw"),
        "{err}"
    );
}

#[test]
fn include_cycle_is_reported_with_the_path() {
    let base = REFERENCE.replacen(
        "notice_ref = [\"N33\", \"N1\", \"N2\"]",
        "notice_ref = [\"N33\", \"N1\", \"N2\"]\ninclude = [\"module.toml\"]",
        1,
    );
    let module = "[policy]\nid = \"m\"\nversion = \"1\"\ntitle = { de = \"M\", en = \"M\" }\ninclude = [\"base.toml\"]\n";
    let loader = MemoryLoader::new()
        .with("base.toml", &base)
        .with("module.toml", module);
    let err = load_policy(&loader, "base.toml")
        .map(|_| ())
        .map_err(|e| e.to_string());
    let err = err.err().unwrap_or_default();
    assert!(
        err.contains("include cycle: base.toml -> module.toml -> base.toml"),
        "{err}"
    );
    assert!(err.contains("module.toml:5:"), "{err}");
}

// covers: N1
#[test]
fn a_product_module_extends_the_base_policy() {
    let module = include_str!("../../../policies/modules/m2m-service-portal.toml");
    let loader = MemoryLoader::new()
        .with("../reference.toml", REFERENCE)
        .with("modules/m2m-service-portal.toml", module);
    let policy = match load_policy(&loader, "modules/m2m-service-portal.toml") {
        Ok(p) => p,
        Err(e) => unreachable!("{e}"),
    };
    assert!(policy.purpose("chatbot_transcript_analysis").is_some());
    assert!(policy.purpose("contract_performance").is_some());
    assert_eq!(policy.sources.len(), 2);
}

#[test]
fn a_module_cannot_redefine_a_base_element() {
    let module = "[policy]\nid = \"m\"\nversion = \"1\"\ntitle = { de = \"M\", en = \"M\" }\ninclude = [\"base.toml\"]\n\n[[channel]]\nid = \"email\"\nlabel = { de = \"E\", en = \"E\" }\n";
    let loader = MemoryLoader::new()
        .with("base.toml", REFERENCE)
        .with("module.toml", module);
    let err = load_policy(&loader, "module.toml")
        .map(|_| ())
        .map_err(|e| e.to_string());
    let err = err.err().unwrap_or_default();
    assert!(err.contains("duplicate channel id `email`"), "{err}");
}

#[test]
fn toml_syntax_errors_have_a_location() {
    let err = errors_of("[policy]\nid = \"x\nversion = 1\n");
    assert!(err.starts_with("bad.toml:2:"), "{err}");
}

#[test]
fn unknown_fields_are_rejected_not_ignored() {
    let text = broken("survives_objection = true", "survives_objections = true");
    let err = errors_of(&text);
    assert!(err.contains("survives_objections"), "{err}");
}

#[test]
fn missing_english_text_is_an_error() {
    let text = broken(
        "label = { de = \"Umsatzzahlen\", en = \"Revenue figures\" }",
        "label = { de = \"Umsatzzahlen\", en = \"\" }",
    );
    assert!(errors_of(&text).contains("both a German and an English text"));
}

#[test]
fn no_input_makes_the_loader_panic() {
    // Truncations at every 97th byte and deterministic byte flips of the reference policy.
    let bytes = REFERENCE.as_bytes();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut tried = 0;
    for cut in (0..bytes.len()).step_by(97) {
        let text = String::from_utf8_lossy(&bytes[..cut]).into_owned();
        let _ = errors_of(&text);
        tried += 1;
    }
    for _ in 0..300 {
        let mut b = bytes.to_vec();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = usize::try_from(seed % b.len() as u64).unwrap_or(0);
            b[i] = b"=[]\"{}\n#.,0aZ"[usize::try_from(seed >> 60).unwrap_or(0) % 13];
        }
        let _ = errors_of(&String::from_utf8_lossy(&b));
        tried += 1;
    }
    assert!(tried > 400);
}

// covers: N33
#[test]
fn a_renewal_rule_is_checked_where_it_is_written() {
    let anchor = "consent_evidence_kept = \"P5Y\"\nnotice_ref = [\"N18\"]\n";
    let with = |rule: &str| broken(anchor, &format!("{anchor}[purpose.renewal]\n{rule}"));
    let text = with("since = \"2026-07\"\nuntil_renewed = \"maybe\"\n");
    let err = errors_of(&text);
    let line = line_of(&text, "\"maybe\"");
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("until_renewed"),
        "{err}"
    );
    let err = errors_of(&with("since = \"July\"\nuntil_renewed = \"suspend\"\n"));
    assert!(err.contains("not a notice version"), "{err}");
    let err = errors_of(&with(
        "since = \"2026-07\"\nuntil_renewed = \"old_scope\"\nold_categories = [\"usage\"]\n",
    ));
    assert!(
        err.contains("`usage` is not a category of `phone_marketing`"),
        "{err}"
    );
    let err = errors_of(&with(
        "since = \"2026-07\"\nuntil_renewed = \"old_scope\"\n",
    ));
    assert!(err.contains("names none"), "{err}");
    assert_eq!(
        errors_of(&with("since = \"2026-07\"\nuntil_renewed = \"suspend\"\n")),
        ""
    );
}

#[test]
fn an_unknown_or_repeated_art49_derogation_is_named_where_it_is_written() {
    let from = "derogations = [\"explicit_consent\", \"contract_necessity\"]";
    let text = broken(
        from,
        "derogations = [\"explicit_consent\", \"vital_interests\"]",
    );
    let err = errors_of(&text);
    let line = line_of(&text, "\"vital_interests\"");
    assert!(
        err.contains(&format!("bad.toml:{line}:"))
            && err.contains("`vital_interests` is not an Art. 49 derogation")
            && err.contains("contract_necessity"),
        "{err}"
    );
    let text = broken(
        from,
        "derogations = [\"explicit_consent\", \"explicit_consent\"]",
    );
    assert!(errors_of(&text).contains("listed twice"));
}

#[test]
fn more_third_countries_than_the_state_holds_is_refused() {
    // 33 invented adequacy decisions for two-letter codes outside the EEA list.
    let mut extra = String::new();
    for a in ['Q', 'X'] {
        for b in 'A'..='Q' {
            extra.push_str(&format!(
                "\n[[transfers.adequacy]]\ncountry = \"{a}{b}\"\ndecided = \"2020-01-01\"\n"
            ));
        }
    }
    let text = format!("{REFERENCE}{extra}");
    let err = errors_of(&text);
    assert!(
        err.contains("third countries; at most 32 are supported"),
        "{err}"
    );
}
