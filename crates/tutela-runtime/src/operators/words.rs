//! The words of operator accounts in German and English, side by side (one line per text, so a
//! text cannot exist in one language only): roles, the outcome of a change, who did something.

tutela_core::bilingual_texts! {
    role_dpo: "Datenschutzbeauftragte(r)", "Data protection officer";
    role_agent: "Sachbearbeitung", "Agent";
    role_auditor: "Prüfung (nur lesen)", "Auditor (read only)";
    op_done_disable: "{name} ist gesperrt. Alle Sitzungen von {name} sind beendet.", "{name} is disabled. All of {name}'s sessions have ended.";
    op_done_enable: "{name} kann sich wieder anmelden.", "{name} can sign in again.";
    op_done_remove: "{name} ist entfernt. Das Protokoll nennt {name} weiterhin bei allem, was {name} getan hat.", "{name} is removed. The audit trail still names {name} for everything {name} did.";
    op_done_reset_totp: "Der zweite Faktor von {name} ist zurückgesetzt, alle Sitzungen sind beendet. Bei der nächsten Anmeldung richtet {name} ihn mit Passwort neu ein.", "{name}'s second factor is reset and all sessions have ended. At the next sign-in, {name} sets it up again with their password.";
    op_unchanged: "Keine Änderung: Das Konto von {name} war schon in diesem Zustand.", "No change: {name}'s account was already in this state.";
    op_not_found: "Dieses Konto gibt es nicht.", "There is no such account.";
    op_already_removed: "{name} wurde bereits entfernt; ein entferntes Konto lässt sich nicht mehr ändern.", "{name} was removed already; a removed account cannot be changed.";
    op_last_dpo: "Das geht nicht: {name} ist die letzte aktive Person mit der Rolle Datenschutzbeauftragte(r), ohne sie könnte niemand mehr Konten verwalten. Legen Sie zuerst ein weiteres Konto mit dieser Rolle an (tutela operators add --role dpo).", "Not possible: {name} is the last active data protection officer; without them nobody could manage accounts. First add another account with this role (tutela operators add --role dpo).";
    actor_automatic: "tutela (automatisch)", "tutela (automatic)";
    actor_cli: "tutela (Kommandozeile)", "tutela (command line)";
    actor_removed: "ein gelöschter Benutzer", "a removed user";
}
