//! A policy diff's sentences as the versions page shows them: the purposes, categories,
//! channels, recipients and retention rules the core names by id (`phone_marketing`) are named
//! by their label from the policy in the reader's language (Art. 12(1) GDPR).

use tutela_core::policy::Policy;
use tutela_core::render::Lang;

/// The label of `id` in `lang`, from the first of `policies` that knows it.
fn label<'p>(id: &str, policies: &[&'p Policy], lang: Lang) -> Option<&'p str> {
    policies.iter().find_map(|p| {
        let found = p
            .purposes
            .iter()
            .find(|x| x.id == id)
            .map(|x| &x.label)
            .or_else(|| p.categories.iter().find(|x| x.id == id).map(|x| &x.label))
            .or_else(|| p.channels.iter().find(|x| x.id == id).map(|x| &x.label))
            .or_else(|| p.recipients.iter().find(|x| x.id == id).map(|x| &x.label))
            .or_else(|| p.retention.iter().find(|x| x.id == id).map(|x| &x.label));
        found.map(|t| t.get(lang))
    })
}

/// `sentence` with every `` `id` `` the policies label replaced by its quoted label; the
/// newer policy first, so that a renamed label reads as the version will show it.
pub(super) fn in_words(sentence: &str, policies: &[&Policy], lang: Lang) -> String {
    let (open, close) = match lang {
        Lang::De => ("„", "“"),
        Lang::En => ("“", "”"),
    };
    let mut out = String::with_capacity(sentence.len());
    let mut rest = sentence;
    while let Some(i) = rest.find('`') {
        let Some(j) = rest[i + 1..].find('`').map(|j| i + 1 + j) else {
            break;
        };
        out.push_str(&rest[..i]);
        let id = &rest[i + 1..j];
        match label(id, policies, lang) {
            Some(l) => {
                out.push_str(open);
                out.push_str(l);
                out.push_str(close);
            }
            None => out.push_str(&rest[i..=j]),
        }
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    out
}
