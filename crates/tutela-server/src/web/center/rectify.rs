//! The fields the privacy center offers for correction (Art. 16), by their names for people.

use tutela_core::policy::Policy;
use tutela_core::render::Lang;

use crate::AppState;

/// The fields the privacy center offers for correction, as (name in the request, label in
/// `lang`): those a map lets the person change or ask an agent to change (`rectify` =
/// `person` or `agent`; identifiers, keys and `nobody` fields never), and the e-mail address
/// tutela itself holds.
pub(crate) fn rectifiable_fields(state: &AppState, lang: Lang) -> Vec<(String, String)> {
    let policy = &state.engine.policy().policy;
    let mut out: Vec<(String, String)> = Vec::new();
    for c in state.requests.connectors.iter() {
        for f in c.rectifiable_fields() {
            if out.iter().any(|(n, _)| *n == f.name) {
                continue;
            }
            let label = match (&f.label, lang) {
                (Some(l), Lang::De) => l.de.clone(),
                (Some(l), Lang::En) => l.en.clone(),
                // A map without a label: the field's data category as the policy names it.
                // Its identifier is a column name or a code, which a person cannot read (and
                // the notice told them about categories, so they recognise the words).
                (None, _) => category_of(c, &f.name)
                    .map(|cat| category_label(policy, cat, lang))
                    .unwrap_or_else(|| other_field(lang).to_owned()),
            };
            out.push((f.name, label));
        }
    }
    if !out.iter().any(|(n, _)| n == "email") {
        let label = match lang {
            Lang::De => "E-Mail-Adresse",
            Lang::En => "E-mail address",
        };
        out.insert(0, ("email".to_owned(), label.to_owned()));
    }
    number_twins(&mut out);
    out
}

/// The data category of the field a rectification names `name` in connector `c`'s map.
fn category_of<'a>(c: &'a tutela_connectors::Connector, name: &str) -> Option<&'a str> {
    c.map
        .tables
        .iter()
        .flat_map(|t| &t.fields)
        .find(|f| f.rectify_as.as_deref() == Some(name))
        .map(|f| f.category.as_str())
}

fn category_label(policy: &Policy, id: &str, lang: Lang) -> String {
    policy.categories.iter().find(|c| c.id == id).map_or_else(
        || other_field(lang).to_owned(),
        |c| c.label.get(lang).to_owned(),
    )
}

fn other_field(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "Weitere Angabe",
        Lang::En => "Other detail",
    }
}

/// Two unlabelled fields of one category would read the same: they are numbered, so each
/// option stays distinct.
fn number_twins(out: &mut [(String, String)]) {
    let labels: Vec<String> = out.iter().map(|(_, l)| l.clone()).collect();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (_, label) in out.iter_mut() {
        if labels.iter().filter(|l| *l == label).count() < 2 {
            continue;
        }
        let n = match seen.iter_mut().find(|(l, _)| l == label) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((label.clone(), 1));
                1
            }
        };
        *label = format!("{label} ({n})");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_of_one_category_without_labels_are_numbered() {
        let mut out = vec![
            ("a".to_owned(), "Kontaktdaten".to_owned()),
            ("b".to_owned(), "Ort".to_owned()),
            ("c".to_owned(), "Kontaktdaten".to_owned()),
        ];
        super::number_twins(&mut out);
        assert_eq!(out[0].1, "Kontaktdaten (1)");
        assert_eq!(out[1].1, "Ort");
        assert_eq!(out[2].1, "Kontaktdaten (2)");
    }
}
