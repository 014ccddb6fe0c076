//! A request's plan (`GET /v1/requests/{id}/plan`) as text for an agent: per dataset and table
//! what happens to how many rows and to which fields, and whether it waits for approval.

use serde_json::Value;

pub fn render(review: &Value) -> String {
    let mut out = String::new();
    for p in review["plans"].as_array().into_iter().flatten() {
        let dataset = p["dataset"].as_str().unwrap_or("");
        out.push_str(&format!("dataset {dataset}"));
        if let Some(hold) = p["legal_hold"].as_str() {
            out.push_str(&format!(
                ": under legal hold {hold}, every row is restricted, nothing erased\n"
            ));
            continue;
        }
        out.push_str(&format!(
            " (digest {})\n",
            p["digest"].as_str().unwrap_or("").get(..12).unwrap_or("")
        ));
        let tables = p["tables"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if tables.is_empty() {
            out.push_str("  nothing of the person here\n");
        }
        for t in tables {
            out.push_str(&table(t));
        }
    }
    let verdict = if review["planned"].as_bool() == Some(false) {
        "no plan"
    } else if review["review_needed"].as_bool() == Some(true) {
        "approval needed"
    } else {
        "runs without review"
    };
    // Once approved, the approval says it all.
    if review["approval"].is_null() {
        out.push_str(&format!(
            "{verdict}: {}\n",
            review["reason"].as_str().unwrap_or("")
        ));
    }
    if let Some(a) = review["approval"].as_object() {
        out.push_str(&format!(
            "approved by {} at {}: {}\n",
            a.get("by").and_then(Value::as_str).unwrap_or(""),
            a.get("at").and_then(Value::as_str).unwrap_or(""),
            a.get("reason").and_then(Value::as_str).unwrap_or("")
        ));
    }
    out
}

fn table(t: &Value) -> String {
    let rows = t["keys"].as_array().map_or(0, Vec::len);
    let action = t["action"].as_str().unwrap_or("");
    let mut line = format!(
        "  {:<18} {:<18} {rows} row(s)",
        t["table"].as_str().unwrap_or(""),
        action
    );
    if let Some(rule) = t["rule"].as_str() {
        let until = t["until"].as_str().unwrap_or("the contract ends");
        line.push_str(&format!(", {rule} until {until}"));
    }
    line.push('\n');
    for f in t["fields"].as_array().into_iter().flatten() {
        let name = f["name"].as_str().unwrap_or("");
        let effect = f["effect"].as_str().unwrap_or("");
        line.push_str(&format!("      {name:<18} {effect}\n"));
        for c in f["changes"].as_array().into_iter().flatten() {
            line.push_str(&format!(
                "        row {}: {} → {}\n",
                c["key"].as_str().unwrap_or(""),
                c["before"].as_str().unwrap_or("(empty)"),
                c["after"].as_str().unwrap_or("(empty)")
            ));
        }
    }
    line
}
