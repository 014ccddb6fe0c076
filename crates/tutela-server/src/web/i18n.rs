//! Every text of the pages in German and English, side by side: one line per text, so a text
//! cannot exist in one language only. Texts about the processing itself come from the policy.

use tutela_core::render::Lang;

macro_rules! texts {
    ($($name:ident: $de:literal, $en:literal;)*) => {
        /// The pages' texts in one language.
        pub struct Texts { $(pub $name: &'static str,)* }
        pub static DE: Texts = Texts { $($name: $de,)* };
        pub static EN: Texts = Texts { $($name: $en,)* };
    };
}

texts! {
    brand: "Datenschutz-Center", "Privacy center";
    console: "Datenschutz-Konsole", "Privacy console";
    skip: "Zum Inhalt springen", "Skip to content";
    nav_label: "Hauptnavigation", "Main navigation";
    other_language: "English", "Deutsch";
    sign_in: "Anmelden", "Sign in";
    sign_out: "Abmelden", "Sign out";
    email: "E-Mail-Adresse", "E-mail address";
    email_hint: "Wir senden einen Code an die Adresse, die wir von Ihnen kennen.", "We send a code to the address we have on file for you.";
    send_code: "Code senden", "Send code";
    code: "Code aus der E-Mail", "Code from the e-mail";
    code_sent: "Wenn wir diese Adresse kennen, haben wir einen 8-stelligen Code dorthin gesandt. Er gilt 15 Minuten.", "If this address is on file, we sent an 8-digit code to it. It is valid for 15 minutes.";
    confirm: "Bestätigen", "Confirm";
    code_wrong: "Der Code stimmt nicht, ist abgelaufen oder gesperrt. Fordern Sie einen neuen an.", "The code is wrong, has expired or is locked. Ask for a new one.";
    too_many: "Zu viele Versuche. Bitte warten Sie 15 Minuten.", "Too many attempts. Please wait 15 minutes.";
    form_expired: "Das Formular ist abgelaufen. Bitte versuchen Sie es noch einmal.", "The form has expired. Please try again.";
    welcome: "Ihre Daten und Ihre Rechte", "Your data and your rights";
    consents: "Ihre Einwilligungen", "Your consents";
    consents_intro: "Sie können jede Einwilligung jederzeit mit Wirkung für die Zukunft geben oder widerrufen.", "You can give or withdraw each consent at any time, with effect for the future.";
    purpose: "Zweck", "Purpose";
    channel: "Kanal", "Channel";
    state: "Stand", "Status";
    given: "erteilt", "given";
    renewal_needed: "Erneuerung nötig", "renewal needed";
    renew: "Erneuern", "Renew";
    renewal_banner: "Unsere Datenschutzhinweise haben sich geändert: Einige Zwecke umfassen jetzt mehr Daten, als Ihre Einwilligung abdeckt. Bitte prüfen und erneuern Sie die markierten Einwilligungen; bis dahin gelten sie höchstens im bisherigen Umfang.", "Our privacy notice has changed: some purposes now cover more data than your consent did. Please review and renew the marked consents; until then they count for their earlier scope at most.";
    pending_renewals: "Einwilligungen, die erneuert werden müssen", "Consents awaiting renewal";
    not_given: "nicht erteilt", "not given";
    give: "Einwilligen", "Give consent";
    withdraw: "Widerrufen", "Withdraw";
    objection: "Widerspruch", "Objection";
    object_marketing: "Jeder Direktwerbung widersprechen", "Object to all direct marketing";
    object_marketing_hint: "Ohne Begründung; wir verwenden Ihre Daten danach nicht mehr für Werbung.", "No reason needed; we will no longer use your data for marketing.";
    objected_marketing: "Sie haben der Direktwerbung widersprochen.", "You have objected to direct marketing.";
    object_li: "Widerspruch aus Gründen Ihrer besonderen Situation", "Objection on grounds of your particular situation";
    object_li_hint: "Gegen eine Verarbeitung auf Grund berechtigter Interessen (Art. 21 Abs. 1 DSGVO). Bitte nennen Sie Ihre Gründe.", "Against processing based on legitimate interests (Art. 21(1) GDPR). Please give your reasons.";
    reason: "Begründung", "Reason";
    send: "Absenden", "Submit";
    gpc_honoured: "Ihr Browser sendet das Signal Global Privacy Control. Wir haben es als Widerspruch gegen Direktwerbung erfasst.", "Your browser sends the Global Privacy Control signal. We recorded it as an objection to direct marketing.";
    rights: "Ihre Rechte", "Your rights";
    access: "Auskunft anfordern (Art. 15)", "Request access (Art. 15)";
    access_hint: "Welche Daten wir über Sie verarbeiten, wofür, woher und an wen.", "Which of your data we process, for what, from where and for whom.";
    portability: "Daten herunterladen (Art. 20)", "Download my data (Art. 20)";
    portability_hint: "Ihre bereitgestellten Daten als ZIP mit CSV-Dateien.", "The data you provided, as a ZIP of CSV files.";
    rectification: "Berichtigung verlangen (Art. 16)", "Ask for a correction (Art. 16)";
    field: "Angabe", "Field";
    correct_value: "Richtiger Wert", "Correct value";
    erasure: "Löschung verlangen (Art. 17)", "Ask for erasure (Art. 17)";
    erasure_hint: "Daten, die wir aus gesetzlichen Gründen aufbewahren müssen, sperren wir bis zum Ende der Frist.", "Data we must keep by law is blocked until the end of its period.";
    restriction: "Einschränkung verlangen (Art. 18)", "Ask for restriction (Art. 18)";
    request: "Anfrage stellen", "File request";
    your_requests: "Ihre Anfragen", "Your requests";
    no_requests: "Sie haben noch keine Anfrage gestellt.", "You have not filed a request yet.";
    request_type: "Art", "Type";
    status: "Status", "Status";
    received: "Eingegangen", "Received";
    due: "Frist", "Due";
    open: "Öffnen", "Open";
    history: "Verlauf", "History";
    older: "Ältere Einträge", "Older entries";
    event: "Ereignis", "Event";
    when: "Zeitpunkt", "When";
    source: "Quelle", "Source";
    notice_version: "Fassung der Hinweise", "Notice version";
    notice: "Datenschutzhinweise", "Privacy notice";
    controller: "Verantwortlicher", "Controller";
    dpo: "Datenschutzbeauftragter", "Data-protection officer";
    authority: "Zuständige Aufsichtsbehörde", "Competent supervisory authority";
    complaint_hint: "Sie können sich jederzeit bei einer Aufsichtsbehörde beschweren (Art. 77 DSGVO).", "You may complain to a supervisory authority at any time (Art. 77 GDPR).";
    saved: "Gespeichert.", "Saved.";
    filed: "Ihre Anfrage ist eingegangen. Sie sehen sie unten mit ihrer Frist.", "Your request has been received. You see it below with its due date.";
    report: "Ihre Auskunft", "Your access report";
    download: "Herunterladen", "Download";
    not_ready: "Noch in Bearbeitung. Diese Seite zeigt den Stand.", "Still being processed. This page shows its progress.";
    steps: "Schritte", "Steps";
    back: "Zurück", "Back";
    not_found: "Nicht gefunden.", "Not found.";
    forbidden: "Dafür fehlt Ihnen die Berechtigung.", "You are not allowed to do this.";
    bad_input: "Die Eingabe ist unvollständig oder ungültig.", "The input is incomplete or invalid.";
    unavailable: "Der Dienst ist gerade nicht erreichbar; es wurde nichts geändert. Bitte versuchen Sie es erneut.", "The service is unavailable right now; nothing was changed. Please try again.";
    operator_name: "Benutzername", "User name";
    password: "Passwort", "Password";
    totp: "Einmalcode der Authenticator-App", "One-time code from the authenticator app";
    login_failed: "Name, Passwort oder Code ist falsch.", "Name, password or code is wrong.";
    queue: "Anfragen", "Requests";
    overdue: "überfällig", "overdue";
    due_soon: "bald fällig", "due soon";
    person: "Person", "Person";
    person_id: "Kundennummer", "Customer number";
    find: "Anzeigen", "Show";
    policy: "Richtlinie", "Policy";
    operators: "Bediener", "Operators";
    versions: "Fassungen", "Versions";
    risk_reviews: "Bonitätsprüfungen", "Risk reviews";
    risk_not_configured: "Die Bonitätsprüfung ist nicht eingerichtet (risk_model).", "The risk check is not configured (risk_model).";
    no_reviews: "Keine Ablehnung wartet auf Überprüfung.", "No decline is waiting for review.";
    retention_page: "Aufbewahrung und Sperren", "Retention and holds";
    legal_holds: "Rechtliche Sperren", "Legal holds";
    legal_holds_how: "Sperren werden über die API (POST /v1/legal-holds) oder mit tutela retention hold gesetzt und aufgehoben; gesperrte Daten werden weder durch Fristen noch durch Löschanträge gelöscht.", "Holds are placed and lifted through the API (POST /v1/legal-holds) or with tutela retention hold; held data is deleted neither by retention periods nor by erasure requests.";
    no_holds: "Keine Sperre ist aktiv.", "No hold is active.";
    held: "Gesperrt", "Held";
    hold_reference: "Vorgang", "Case";
    placed_by: "Gesetzt von", "Placed by";
    sweeps: "Löschläufe", "Sweeps";
    no_sweeps: "Noch kein Löschlauf.", "No sweep yet.";
    started: "Begonnen", "Started";
    finished: "Beendet", "Finished";
    running: "läuft", "running";
    rows_deleted: "Gelöschte Zeilen", "Rows deleted";
    probability: "Wahrscheinlichkeit der Zahlung", "Probability of payment";
    agency: "Auskunftei befragt", "Credit agency asked";
    accept_check: "Annehmen", "Accept";
    confirm_decline: "Ablehnung bestätigen", "Confirm decline";
    summaries: "KI-Zusammenfassungen", "AI summaries";
    no_drafts: "Keine Entwürfe zu prüfen.", "No drafts to review.";
    call: "Gespräch", "Call";
    expires: "Verfällt", "Expires";
    approve: "Freigeben", "Approve";
    save_edited: "Bearbeitet speichern", "Save edited";
    reject: "Verwerfen", "Reject";
    draft_gone: "Der Entwurf ist schon geprüft oder verfallen.", "The draft was reviewed already or has expired.";
    in_force: "In Kraft", "In force";
    activations: "Aktivierungen", "Activations";
    archive: "Archiv der Hinweise", "Notice archive";
    activate: "Fassung aktivieren", "Activate a version";
    policy_file: "Richtliniendatei (TOML, ohne include)", "Policy file (TOML, without includes)";
    effective_at: "Wirksam ab (RFC 3339, leer: sofort)", "Effective at (RFC 3339, empty: now)";
    cancel: "Zurückziehen", "Cancel";
    role: "Rolle", "Role";
    verify: "Identität bestätigen", "Verify identity";
    verify_note: "Wie geprüft (Notiz)", "How it was checked (note)";
    extend: "Frist verlängern", "Extend deadline";
    months: "Monate", "Months";
    refuse: "Ablehnen", "Refuse";
    classify: "Einordnen als", "Classify as";
    retry: "Fehlgeschlagene Schritte erneut versuchen", "Retry failed steps";
    actor: "Wer", "Who";
    details: "Angaben", "Details";
    legal_basis: "Rechtsgrundlage", "Legal basis";
    categories: "Datenkategorien", "Data categories";
    retention: "Speicherdauer", "Retention";
    clauses: "Klauseln", "Clauses";
    recipients: "Empfänger", "Recipients";
    record: "Verzeichnis von Verarbeitungstätigkeiten (Art. 30)", "Record of processing activities (Art. 30)";
    coverage: "Abdeckung der Hinweise", "Coverage of the notice";
    restricted: "Verarbeitung eingeschränkt", "Processing restricted";
    asked_per_call: "Wir fragen Sie in jedem Gespräch neu; Ihre Zustimmung gilt nur für dieses Gespräch.", "We ask you on each call; your consent holds for that call only.";
    art49: "Übermittlung in Drittländer (Art. 49)", "Transfers to third countries (Art. 49)";
    art49_consent: "ausdrückliche Einwilligung", "explicit consent";
    art49_contract: "für den Vertrag erforderlich", "necessary for the contract";
    erased: "gelöscht", "erased";
    relationship: "Beziehung", "Relationship";
    disclosures: "Offenlegungen", "Disclosures";
    read_only: "Nur lesen", "Read only";
    none: "keine", "none";
    datasets_heading: "Datenbanken des Betreibers", "Operator databases";
    dataset_ok: "Zuordnung geprüft", "Map checked";
    dataset_unchecked: "noch nicht geprüft (Datenbank beim Start nicht erreichbar)", "not checked yet (database unreachable at start)";
    dataset_broken: "gesperrt: die Datenbank passt nicht zu ihrer Zuordnung; es wird nichts gelöscht oder geschrieben, bis Zuordnung oder Datenbank berichtigt und tutela neu gestartet ist", "blocked: the database does not match its map; nothing is deleted or written until the map or the database is fixed and tutela restarted";
    sweeps_on: "Löschläufe an", "Sweeps on";
    awaiting_approval: "wartet auf Freigabe", "awaiting approval";
    approve_plan: "Plan freigeben", "Approve plan";
    approved_by: "freigegeben von", "approved by";
    plan_changed: "Dieser Plan wartet nicht mehr auf Freigabe oder hat sich geändert; bitte prüfen Sie ihn erneut.", "This plan no longer awaits approval or has changed; please review it again.";
    sweeps_off: "Löschläufe aus (retention_sweeps = true im [[dataset]] schaltet sie ein)", "Sweeps off (retention_sweeps = true in the [[dataset]] turns them on)";
    code_reference: "Referenz dieser Anmeldung:", "Reference of this sign-in:";
    code_reference_hint: "Nehmen Sie den Code aus der E-Mail mit dieser Referenz. Haben Sie mehrere E-Mails erhalten, gelten die anderen nicht für diese Anmeldung.", "Use the code from the e-mail with this reference. If you received several e-mails, the others do not work for this sign-in.";
    mail_code_for: "Code für die Anmeldung mit der Referenz {reference}, angefordert um {time}. Verwenden Sie ihn nur, wenn Ihre Anmeldeseite diese Referenz zeigt.", "Code for the sign-in with reference {reference}, requested at {time}. Use it only if your sign-in page shows this reference.";
    mail_code_valid: "Ihr Anmeldecode für das Datenschutz-Center ist {minutes} Minuten gültig.", "Your sign-in code for the privacy center is valid for {minutes} minutes.";
}

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::De => &DE,
        Lang::En => &EN,
    }
}
