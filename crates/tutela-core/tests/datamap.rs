//! Dataset maps: the demo map validates; broken maps are refused with file, line and column.

use tutela_core::datamap;

use crate::support::reference;

const DEMO: &str = include_str!("../../../policies/datasets/demo-operator.toml");

fn errors(text: &str) -> String {
    match datamap::load("map.toml", text, &reference()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

const HEAD: &str = "[dataset]\nid = \"crm\"\nconnector = \"sqlite\"\nurl = \"sqlite://x.db\"\nperson_table = \"people\"\n";

#[test]
fn the_demo_map_is_valid_and_orders_parents_first() {
    let map = datamap::load("demo-operator.toml", DEMO, &reference())
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(map.tables[map.person_table].name, "customers");
    let pos = |name: &str| {
        let t = map.table(name).unwrap_or_else(|| unreachable!("{name}"));
        map.parents_first
            .iter()
            .position(|&x| x == t)
            .unwrap_or(usize::MAX)
    };
    assert!(pos("customers") < pos("contracts"));
    assert!(pos("contracts") < pos("sims"));
    assert!(pos("sims") < pos("usage_records"));
    assert!(pos("invoices") < pos("payments"));
    let sims = map.table("sims").unwrap_or_default();
    assert_eq!(map.path_to_person(sims).len(), 2);
}

#[test]
fn unknown_categories_and_identifiers_are_located() {
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\n[[table.field]]\nname = \"mail\"\ncategory = \"mood\"\nidentifies = \"aura\"\n"
    );
    let e = errors(&text);
    assert!(
        e.contains("map.toml:10:12: error: unknown category `mood`"),
        "{e}"
    );
    assert!(
        e.contains("map.toml:11:14: error: unknown identifier kind `aura`"),
        "{e}"
    );
}

#[test]
fn tables_must_lead_to_the_person_and_not_loop() {
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\n[[table.field]]\nname = \"email\"\ncategory = \"contact\"\n\
         [[table]]\nname = \"a\"\nreferences = [{{ column = \"b_id\", table = \"b\" }}]\n[[table.field]]\nname = \"x\"\ncategory = \"usage\"\n\
         [[table]]\nname = \"b\"\nreferences = [{{ column = \"a_id\", table = \"a\" }}]\n[[table.field]]\nname = \"y\"\ncategory = \"usage\"\n\
         [[table]]\nname = \"orphan\"\n[[table.field]]\nname = \"z\"\ncategory = \"usage\"\n"
    );
    let e = errors(&text);
    assert!(e.contains("table `a` is part of a reference cycle"), "{e}");
    assert!(
        e.contains("table `orphan` does not lead to the person table"),
        "{e}"
    );
}

#[test]
fn retention_rules_come_from_the_policy() {
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\nretention = \"forever\"\n[[table.field]]\nname = \"email\"\ncategory = \"contact\"\n"
    );
    assert!(errors(&text).contains("the policy has no retention rule `forever`"));
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\nretention = \"booking_vouchers\"\n[[table.field]]\nname = \"email\"\ncategory = \"contact\"\n"
    );
    assert!(errors(&text).contains("needs the column its period runs from"));
}

#[test]
fn names_that_cannot_be_quoted_safely_are_refused() {
    let text = format!(
        "{HEAD}[[table]]\nname = \"people; DROP TABLE x\"\n[[table.field]]\nname = \"e\\\"mail\"\ncategory = \"contact\"\n"
    );
    let e = errors(&text);
    assert!(
        e.contains("is not a table name tutela can quote safely"),
        "{e}"
    );
    assert!(
        e.contains("is not a column name tutela can quote safely"),
        "{e}"
    );
}

#[test]
fn credentials_stay_out_of_the_file_or_in_it_but_not_both() {
    let text = HEAD.replace(
        "url = \"sqlite://x.db\"\n",
        "url = \"a\"\nurl_env = \"B\"\n",
    ) + "[[table]]\nname = \"people\"\n[[table.field]]\nname = \"email\"\ncategory = \"contact\"\n";
    assert!(errors(&text).contains("exactly one of `url` and `url_env`"));
    assert!(
        errors("[dataset\n").contains("map.toml:1:"),
        "{}",
        errors("[dataset\n")
    );
}

#[test]
fn portable_tables_hold_only_data_on_consent_or_contract() {
    // A policy where the risk-check result rests on legitimate interest only.
    let policy_text = crate::support::REFERENCE.replace(
        "categories = [\"identity\", \"contact\", \"customer_number\", \"contract\", \"payment\", \"revenue\", \"risk_result\"]\nretention = \"risk_check_result\"",
        "categories = [\"identity\", \"contact\", \"customer_number\", \"contract\", \"payment\", \"revenue\"]\nretention = \"risk_check_result\"",
    );
    assert!(
        policy_text != crate::support::REFERENCE,
        "the risk check purpose was found"
    );
    let loader = tutela_core::policy::MemoryLoader::new().with("p.toml", &policy_text);
    let policy =
        tutela_core::policy::load_policy(&loader, "p.toml").unwrap_or_else(|e| unreachable!("{e}"));
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\nportable = true\n[[table.field]]\nname = \"score\"\ncategory = \"risk_result\"\n"
    );
    let e = datamap::load("map.toml", &text, &policy)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("no purpose processes `risk_result` on consent or for a contract"),
        "{e}"
    );
    assert!(
        errors(&text).is_empty(),
        "the reference policy checks risk on the contract basis (N15)"
    );
}

#[test]
fn a_kept_record_keeps_only_what_its_duty_needs() {
    // covers: N6
    use std::collections::BTreeMap;
    use tutela_core::datamap::{Action, Row};
    let map = datamap::load("demo-operator.toml", DEMO, &reference())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let t = |name: &str| map.table(name).unwrap_or_else(|| unreachable!("{name}"));
    let row = |key: &str, parent: Option<&str>, from: Option<&str>| Row {
        key: key.to_owned(),
        parents: vec![parent.map(str::to_owned)],
        retention_from: from.map(str::to_owned),
        contract_end: None,
        values: Vec::new(),
    };
    let customer = Row {
        parents: Vec::new(),
        ..row("1", None, None)
    };
    let rows = BTreeMap::from([
        (t("customers"), vec![customer]),
        (
            t("invoices"),
            vec![row("60", Some("1"), Some("2025-03-01"))],
        ),
    ]);
    let now: jiff::Timestamp = "2026-11-30T12:00:00Z"
        .parse()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let actions = datamap::plan_erasure(&map, &reference(), &rows, now);
    let restrict = |table: usize| {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Restrict {
                    table: x,
                    kept,
                    erased,
                    ..
                } if *x == table => Some((kept.clone(), erased.clone())),
                _ => None,
            })
            .unwrap_or_else(|| unreachable!("{table} is restricted: {actions:?}"))
    };
    let (kept, erased) = restrict(t("customers"));
    assert_eq!(kept, ["customer_no", "name", "street", "city"]);
    assert_eq!(erased, ["email", "birth_date"]);
    let (kept, erased) = restrict(t("invoices"));
    assert_eq!(kept, ["issued_at", "amount_cents"]);
    assert_eq!(erased, ["iban"]);
}

#[test]
fn keep_names_fields_of_its_table() {
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\nkeep = [\"name\", \"shoe\"]\n[[table.field]]\nname = \"name\"\ncategory = \"identity\"\n"
    );
    let e = errors(&text);
    assert!(
        e.contains("map.toml:8:17: error: `shoe` in `keep` is not a field of table `people`"),
        "{e}"
    );
}

#[test]
fn identifiers_are_never_rectified_and_fields_say_who_may() {
    use tutela_core::datamap::Rectify;
    let map = datamap::load("demo-operator.toml", DEMO, &reference())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let rule = |name: &str| {
        map.tables
            .iter()
            .flat_map(|t| &t.fields)
            .find(|f| f.name == name)
            .map(|f| f.rectify)
    };
    assert_eq!(rule("email"), Some(Rectify::Person));
    assert_eq!(rule("city"), Some(Rectify::Agent));
    assert_eq!(rule("birth_date"), Some(Rectify::Agent));
    for id in ["customer_no", "iccid", "imsi", "msisdn", "imei"] {
        assert_eq!(rule(id), Some(Rectify::Nobody), "{id}");
    }
    // An identifier declared correctable is refused, at its rule.
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\n[[table.field]]\nname = \"imsi\"\ncategory = \"device\"\nidentifies = \"imsi\"\nrectify = \"person\"\n"
    );
    let e = errors(&text);
    assert!(
        e.contains("map.toml:12:11: error: `imsi` is an identifier (imsi); identifiers never change through a request"),
        "{e}"
    );
    let text = format!(
        "{HEAD}[[table]]\nname = \"people\"\n[[table.field]]\nname = \"city\"\ncategory = \"contact\"\nrectify = \"anyone\"\n"
    );
    assert!(
        errors(&text).contains("unknown rectification rule `anyone`"),
        "{}",
        errors(&text)
    );
}
