//! The scorecard's features by name for people (issue 32): the reasons of a risk check reach
//! the person in the Art. 15 report, where a training table's column (`duration_in_month`)
//! says nothing. A small TOML file names each feature in German and English:
//!
//! ```toml
//! [duration_in_month]
//! de = "Laufzeit in Monaten"
//! en = "Duration in months"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::datamap::Label;
use crate::policy::{PolicyErrors, SpannedErrors};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    de: Spanned<String>,
    en: Spanned<String>,
}

/// Parses the labels in `text` (named `file` in errors), each for one of `columns` (the
/// training table's feature columns). Every mistake is named with file, line and column.
pub fn parse_labels(
    file: &str,
    text: &str,
    columns: &[String],
) -> Result<BTreeMap<String, Label>, PolicyErrors> {
    let mut e = SpannedErrors::new(file, text);
    let raw: BTreeMap<Spanned<String>, RawLabel> = match toml::from_str(text) {
        Ok(r) => r,
        Err(err) => {
            e.at(
                err.span().unwrap_or(0..0),
                err.message().to_owned(),
                "each feature is a table: [column] with de = \"…\" and en = \"…\"",
            );
            return Err(PolicyErrors(e.list));
        }
    };
    let mut out = BTreeMap::new();
    for (name, label) in raw {
        if !columns.iter().any(|c| c == name.get_ref()) {
            e.at(
                name.span(),
                format!("`{}` is not a column of the training data", name.get_ref()),
                "name a feature column exactly as the header writes it",
            );
            continue;
        }
        for text in [&label.de, &label.en] {
            if text.get_ref().trim().is_empty() {
                e.at(
                    text.span(),
                    format!("the label of `{}` is empty", name.get_ref()),
                    "a person reads it in the Art. 15 report: say what the feature is",
                );
            }
        }
        out.insert(
            name.into_inner(),
            Label {
                de: label.de.into_inner(),
                en: label.en.into_inner(),
            },
        );
    }
    if e.list.is_empty() {
        Ok(out)
    } else {
        Err(PolicyErrors(e.list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<String> {
        vec!["duration_in_month".to_owned(), "purpose".to_owned()]
    }

    #[test]
    fn labels_are_read_per_feature() {
        let text =
            "[duration_in_month]\nde = \"Laufzeit in Monaten\"\nen = \"Duration in months\"\n";
        let l = parse_labels("labels.toml", text, &columns()).unwrap_or_default();
        assert_eq!(
            l.get("duration_in_month"),
            Some(&Label {
                de: "Laufzeit in Monaten".to_owned(),
                en: "Duration in months".to_owned()
            })
        );
    }

    #[test]
    fn mistakes_are_named_with_line_and_column() {
        let errors = |text: &str| match parse_labels("labels.toml", text, &columns()) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        let e = errors(
            "[duration]\nde = \"Laufzeit\"\nen = \"Duration\"\n[purpose]\nde = \" \"\nen = \"Purpose\"\n",
        );
        assert!(
            e.contains("labels.toml:1:2: error: `duration` is not a column of the training data"),
            "{e}"
        );
        assert!(
            e.contains("labels.toml:5:6: error: the label of `purpose` is empty"),
            "{e}"
        );
        let e = errors("[purpose]\nde = \"Zweck\"\n");
        assert!(
            e.contains("labels.toml:1:1: error: missing field `en`"),
            "{e}"
        );
        let e = errors("[purpose]\nde = \"Zweck\"\nen = \"Purpose\"\nfr = \"But\"\n");
        assert!(
            e.contains("labels.toml:4:1: error: unknown field `fr`"),
            "{e}"
        );
    }
}
