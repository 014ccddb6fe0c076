//! tutela's TCF decoder against the IAB's reference library (@iabtechlabtcf/core from npm), in
//! the same test run: the library makes and decodes random TC strings (v2.2 and v2.3, bit
//! fields and ranges, publisher restrictions, disclosed vendors, publisher segments); tutela
//! must decode the same values from every one.

use std::process::Command;

use tutela_core::tcf;

// covers: N20
#[test]
fn the_decoder_agrees_with_the_reference_library() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tcf");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !dir.join("node_modules/@iabtechlabtcf/core").exists() {
        assert!(
            !ci,
            "run `npm ci --prefix tests/tcf` (scripts/test does): the reference library is required under CI=true"
        );
        eprintln!("skipping: the reference library is not installed (npm ci --prefix tests/tcf)");
        return;
    }
    let out = match Command::new("node")
        .arg("reference.js")
        .args(["300", "20261130"])
        .current_dir(&dir)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(!ci, "node is required under CI=true: {e}");
            eprintln!("skipping: node is not installed ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap_or_default();
    let mut checked = 0;
    for line in text.lines() {
        let r: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| unreachable!("{e}: {line}"));
        let s = r["string"].as_str().unwrap_or_default();
        let tc = tcf::decode(s).unwrap_or_else(|e| unreachable!("{s}: {e}"));
        let ids = |v: &serde_json::Value| -> Vec<u16> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|x| x as u16)
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            u64::from(tc.cmp_id),
            r["cmp_id"].as_u64().unwrap_or(0),
            "{s}"
        );
        assert_eq!(
            u64::from(tc.cmp_version),
            r["cmp_version"].as_u64().unwrap_or(0),
            "{s}"
        );
        assert_eq!(
            u64::from(tc.consent_screen),
            r["consent_screen"].as_u64().unwrap_or(0),
            "{s}"
        );
        assert_eq!(
            u64::from(tc.vendor_list_version),
            r["vendor_list_version"].as_u64().unwrap_or(0),
            "{s}"
        );
        assert_eq!(
            u64::from(tc.policy_version),
            r["policy_version"].as_u64().unwrap_or(0),
            "{s}"
        );
        assert_eq!(
            tc.is_service_specific,
            r["is_service_specific"] == true,
            "{s}"
        );
        assert_eq!(
            tc.purpose_one_treatment,
            r["purpose_one_treatment"] == true,
            "{s}"
        );
        assert_eq!(
            tc.publisher_country_code,
            r["publisher_country_code"].as_str().unwrap_or(""),
            "{s}"
        );
        assert_eq!(
            tc.special_feature_optins,
            ids(&r["special_feature_optins"]),
            "{s}"
        );
        assert_eq!(tc.purpose_consents, ids(&r["purpose_consents"]), "{s}");
        assert_eq!(
            tc.purpose_legitimate_interests,
            ids(&r["purpose_legitimate_interests"]),
            "{s}"
        );
        assert_eq!(tc.vendor_consents, ids(&r["vendor_consents"]), "{s}");
        assert_eq!(
            tc.vendor_legitimate_interests,
            ids(&r["vendor_legitimate_interests"]),
            "{s}"
        );
        assert_eq!(tc.created_ds, r["created_ds"].as_u64().unwrap_or(0), "{s}");
        let mut mine: Vec<(u16, u8, Vec<u16>)> = tc.publisher_restrictions.clone();
        mine.sort();
        let mut theirs: Vec<(u16, u8, Vec<u16>)> = r["publisher_restrictions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x[0].as_u64().unwrap_or(0) as u16,
                            x[1].as_u64().unwrap_or(0) as u8,
                            ids(&x[2]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        theirs.sort();
        assert_eq!(mine, theirs, "{s}");
        if !r["disclosed_vendors"].is_null() {
            assert_eq!(
                tc.disclosed_vendors.clone().unwrap_or_default(),
                ids(&r["disclosed_vendors"]),
                "{s}"
            );
        }
        if tc.publisher_consents.is_some() {
            assert_eq!(
                tc.publisher_consents.clone().unwrap_or_default(),
                ids(&r["publisher_consents"]),
                "{s}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 300);
}
