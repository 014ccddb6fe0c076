//! Consents an objection ended. An objection to direct marketing (or to one marketing
//! purpose) ends the consents it covers without a withdrawal (`state.rs`), so a consent the
//! person gave would silently read "nicht erteilt"; the page says why instead.

use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::render::Lang;
use tutela_core::state::{OBJECTED_DIRECT_MARKETING, SubjectState};
use tutela_store::Store;

use super::ConsentRow;
use super::history::purpose_name;
use crate::AppState;

/// Events read per page while looking for the consents' latest events.
const PAGE: i64 = 500;
/// At most this many pages: a consent whose last event lies further back than this many
/// events is not explained (the row still says "nicht erteilt"), so a page costs the same
/// for a person with a long history.
const MAX_PAGES: usize = 20;

/// Fills `ended` on each row whose consent the person last gave, that no longer holds, and
/// that an objection covers. Reads the ledger only when the person objected to something.
pub(crate) async fn explain(
    state: &AppState,
    subject: &str,
    st: &SubjectState,
    rows: &mut [ConsentRow],
    lang: Lang,
) -> Result<(), ()> {
    if !st.has(OBJECTED_DIRECT_MARKETING) && st.objected == 0 {
        return Ok(());
    }
    let policy = &state.engine.policy().policy;
    let marketing = |p: &str| {
        policy
            .purposes
            .iter()
            .any(|x| x.id == p && x.direct_marketing)
    };
    let mut open: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i].given && !rows[i].per_call && marketing(&rows[i].purpose))
        .collect();
    // The newest objection to each purpose seen so far (newest first): the one that ended a
    // consent found further back.
    let mut objections: Vec<ObjectionScope> = Vec::new();
    let mut before = None;
    for _ in 0..MAX_PAGES {
        if open.is_empty() {
            break;
        }
        let events = state
            .engine
            .store
            .recent_history(subject, before, PAGE)
            .await
            .map_err(|_| ())?;
        for e in &events {
            match &e.event.kind {
                EventKind::Objection { scope } => objections.push(scope.clone()),
                EventKind::Consent {
                    purpose,
                    channel,
                    granted,
                    ..
                } => open.retain(|&i| {
                    let row = &rows[i];
                    let same = row.purpose == *purpose
                        && (row.channel.is_empty()
                            || channel.as_deref() == Some(row.channel.as_str()));
                    if same && *granted {
                        let text = sentence(policy, row, &objections, lang);
                        rows[i].ended = text;
                    }
                    !same
                }),
                _ => {}
            }
        }
        if (events.len() as i64) < PAGE {
            break;
        }
        before = events.last().map(|e| e.event.seq);
    }
    Ok(())
}

/// "Weil Sie der Direktwerbung widersprochen haben, gilt Ihre Einwilligung in Werbung per
/// Telefon nicht mehr." — naming the objection that covers the row's purpose.
fn sentence(
    policy: &tutela_core::policy::Policy,
    row: &ConsentRow,
    objections: &[ObjectionScope],
    lang: Lang,
) -> String {
    let consent = purpose_name(
        policy,
        &row.purpose,
        (!row.channel.is_empty()).then_some(row.channel.as_str()),
        lang,
    );
    let own = objections
        .iter()
        .any(|o| matches!(o, ObjectionScope::Purpose(p) if *p == row.purpose));
    match (own, lang) {
        (true, Lang::De) => format!(
            "Weil Sie der Verarbeitung für {} widersprochen haben, gilt Ihre Einwilligung in {consent} nicht mehr.",
            row.label
        ),
        (true, Lang::En) => format!(
            "Because you objected to processing for {}, your consent to {consent} no longer applies.",
            row.label
        ),
        (false, Lang::De) => format!(
            "Weil Sie der Direktwerbung widersprochen haben, gilt Ihre Einwilligung in {consent} nicht mehr."
        ),
        (false, Lang::En) => format!(
            "Because you objected to direct marketing, your consent to {consent} no longer applies."
        ),
    }
}
