//! A request's plans on its console page: per dataset, table and field what an erasure or
//! rectification will do, in plain German or English, and who approved it.

use tutela_connectors::{FieldEffect, PlanAction, TablePlan};
use tutela_core::policy::Policy;
use tutela_core::render::Lang;

use crate::AppState;
use crate::web::{Texts, civil_date};
use tutela_runtime::requests::review::RecordedPlan;

/// Who approved a plan, as the office knows them: an operator by name, the policy in words.
pub(super) async fn approver_name(state: &AppState, by: &str, t: &Texts) -> String {
    if by == "policy" {
        return t.plan_by_policy.to_owned();
    }
    if let Some(op_id) = by.strip_prefix("operator:")
        && let Ok(Some(o)) = tutela_store::WebStore::operator(&state.engine.store, op_id).await
    {
        return format!("{} ({by})", o.name);
    }
    by.to_owned()
}

/// One dataset's plan as the page shows it.
pub(super) struct PlanView {
    pub(super) dataset: String,
    pub(super) digest: String,
    /// The legal hold it gave way to, in words; empty when none.
    pub(super) held: String,
    pub(super) tables: Vec<TableView>,
}

pub(super) struct TableView {
    pub(super) table: String,
    /// What happens to the rows, in words.
    pub(super) action: String,
    pub(super) rows: usize,
    pub(super) keys: String,
    pub(super) fields: Vec<FieldView>,
}

pub(super) struct FieldView {
    /// The map's label in the page's language, else the column name.
    pub(super) label: String,
    /// The column, shown beside a label that differs from it.
    pub(super) name: String,
    pub(super) effect: String,
    /// Per row: `key: before → after`.
    pub(super) changes: Vec<String>,
}

/// The recorded plans in plain words of `lang`.
/// A retention rule by its label in the policy, by its id when the policy has no such rule.
pub(super) fn rule_name(policy: Option<&Policy>, id: &str, lang: Lang) -> String {
    policy
        .and_then(|p| p.retention.iter().find(|r| r.id == id))
        .map_or_else(|| id.to_owned(), |r| r.label.get(lang).to_owned())
}

/// The plans as the agent reads them; retention rules by their labels in `policy`.
pub(super) fn plan_views(
    plans: &[RecordedPlan],
    lang: Lang,
    policy: Option<&Policy>,
) -> Vec<PlanView> {
    let t = crate::web::i18n::texts(lang);
    plans
        .iter()
        .map(|p| PlanView {
            dataset: p.plan.dataset.clone(),
            digest: p.plan.digest.clone(),
            held: p
                .legal_hold
                .as_deref()
                .map(|h| t.plan_held.replace("{reference}", h))
                .unwrap_or_default(),
            tables: p
                .plan
                .tables
                .iter()
                .map(|tp| table_view(tp, lang, policy))
                .collect(),
        })
        .collect()
}

fn table_view(tp: &TablePlan, lang: Lang, policy: Option<&Policy>) -> TableView {
    let t = crate::web::i18n::texts(lang);
    let until = |u: &Option<String>| u.as_deref().map(|u| civil_date(u, lang));
    let action = match tp.action {
        PlanAction::Delete => t.plan_delete.to_owned(),
        PlanAction::Anonymise => t.plan_anonymise.to_owned(),
        PlanAction::Restrict => {
            let rule = rule_name(policy, tp.rule.as_deref().unwrap_or_default(), lang);
            let why = match tp.why.as_deref() {
                Some("legal_retention") => format!("; {}", t.plan_why_legal),
                Some("referenced_by_retained_record") => format!("; {}", t.plan_why_referenced),
                _ => String::new(),
            };
            t.plan_restrict
                .replace("{until}", &until(&tp.until).unwrap_or_else(|| "?".into()))
                .replace("{rule}", &format!("{rule}{why}"))
        }
        PlanAction::KeepForContract => match until(&tp.until) {
            Some(u) => t.plan_keep_contract_until.replace("{until}", &u),
            None => t.plan_keep_contract.to_owned(),
        },
        PlanAction::Change => t.plan_change.to_owned(),
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_else(|| t.plan_empty_value.to_owned());
    TableView {
        table: tp.table.clone(),
        action,
        rows: tp.keys.len(),
        keys: tp.keys.join(", "),
        fields: tp
            .fields
            .iter()
            .map(|f| FieldView {
                label: f
                    .label
                    .as_ref()
                    .map(|l| match lang {
                        Lang::De => l.de.clone(),
                        Lang::En => l.en.clone(),
                    })
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| f.name.clone()),
                name: f.name.clone(),
                effect: match f.effect {
                    FieldEffect::Deleted => t.effect_deleted,
                    FieldEffect::Nulled => t.effect_nulled,
                    FieldEffect::Hashed => t.effect_hashed,
                    FieldEffect::Fixed => t.effect_fixed,
                    FieldEffect::Kept => t.effect_kept,
                    FieldEffect::Changed => t.effect_changed,
                }
                .to_owned(),
                changes: f
                    .changes
                    .iter()
                    .map(|c| format!("{}: {} → {}", c.key, value(&c.before), value(&c.after)))
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use tutela_connectors::{DatasetPlan, FieldChange, FieldPlan};
    use tutela_core::datamap::Label;

    use super::*;

    fn field(name: &str, effect: FieldEffect, changes: Vec<FieldChange>) -> FieldPlan {
        FieldPlan {
            name: name.into(),
            category: "identity".into(),
            label: (name == "name").then(|| Label {
                de: "Name der Person".into(),
                en: "Person's name".into(),
            }),
            effect,
            rectify: None,
            changes,
        }
    }

    fn table(name: &str, action: PlanAction, fields: Vec<FieldPlan>) -> TablePlan {
        TablePlan {
            table: name.into(),
            action,
            keys: vec!["1".into(), "2".into()],
            fields,
            rule: (action == PlanAction::Restrict).then(|| "hgb_257".into()),
            until: (action == PlanAction::Restrict).then(|| "2034-12-31".into()),
            why: (action == PlanAction::Restrict).then(|| "legal_retention".into()),
        }
    }

    #[test]
    fn a_plan_is_shown_in_plain_words() {
        let plans = vec![
            RecordedPlan {
                plan: DatasetPlan {
                    dataset: "crm".into(),
                    digest: "abc".into(),
                    tables: vec![
                        table(
                            "invoices",
                            PlanAction::Restrict,
                            vec![field("iban", FieldEffect::Kept, vec![])],
                        ),
                        table(
                            "customers",
                            PlanAction::Change,
                            vec![field(
                                "name",
                                FieldEffect::Changed,
                                vec![FieldChange {
                                    key: "1".into(),
                                    before: Some("Erika Musterman".into()),
                                    after: Some("Erika Mustermann".into()),
                                }],
                            )],
                        ),
                        table(
                            "tickets",
                            PlanAction::Anonymise,
                            vec![field("summary", FieldEffect::Hashed, vec![])],
                        ),
                    ],
                },
                legal_hold: None,
            },
            RecordedPlan {
                plan: DatasetPlan {
                    dataset: "shop".into(),
                    digest: String::new(),
                    tables: vec![],
                },
                legal_hold: Some("LH-7".into()),
            },
        ];
        let de = plan_views(&plans, Lang::De, None);
        let t = &de[0].tables;
        assert_eq!(
            t[0].action,
            "aufbewahren und sperren bis 31.12.2034 (hgb_257; gesetzliche Aufbewahrungspflicht)"
        );
        assert_eq!((t[0].rows, t[0].keys.as_str()), (2, "1, 2"));
        assert_eq!(
            (
                t[0].fields[0].label.as_str(),
                t[0].fields[0].effect.as_str()
            ),
            ("iban", "bleibt")
        );
        assert_eq!(t[1].action, "ändern");
        assert_eq!(t[1].fields[0].label, "Name der Person");
        assert_eq!(t[1].fields[0].effect, "geändert");
        assert_eq!(
            t[1].fields[0].changes,
            vec!["1: Erika Musterman → Erika Mustermann"]
        );
        assert_eq!(
            (t[2].action.as_str(), t[2].fields[0].effect.as_str()),
            ("anonymisieren", "durch Hash ersetzt")
        );
        assert!(de[0].held.is_empty());
        assert!(de[1].held.contains("LH-7"), "{}", de[1].held);
        let en = plan_views(&plans, Lang::En, None);
        assert_eq!(
            en[0].tables[0].action,
            "keep restricted until 31 December 2034 (hgb_257; legal retention duty)"
        );
        assert_eq!(en[0].tables[1].fields[0].label, "Person's name");
        assert_eq!(en[0].tables[2].fields[0].effect, "replaced by a hash");
    }

    #[test]
    fn calendar_dates_are_written_as_the_pages_write_dates() {
        assert_eq!(civil_date("2034-12-31", Lang::De), "31.12.2034");
        assert_eq!(civil_date("2034-12-31", Lang::En), "31 December 2034");
        assert_eq!(civil_date("someday", Lang::De), "someday");
    }
}
