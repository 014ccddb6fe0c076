//! German postal addresses: a street (a name ending in a street word such as -straße, -weg,
//! -allee, or introduced by Am, An der, Im …), a house number, and a five-digit postcode with
//! its town. The postcode and town anchor the match; a street word alone is not an address.

use regex::Regex;

pub(super) fn address() -> Result<Regex, regex::Error> {
    let letters = r"[A-Za-zÄÖÜäöüßéè]";
    let words = [
        "straße",
        "strasse",
        "str.",
        "weg",
        "allee",
        "platz",
        "gasse",
        "ring",
        "damm",
        "ufer",
        "chaussee",
        "markt",
        "steig",
        "pfad",
        "stieg",
        "berg",
        "hof",
        "graben",
        "wall",
        "kamp",
        "brücke",
        "tor",
        "anger",
        "park",
        "garten",
        "feld",
        "höhe",
        "grund",
        "winkel",
        "zeile",
        "promenade",
        "bogen",
    ];
    let street_word = format!(
        "(?:{})",
        words
            .iter()
            .map(|w| super::names::either_case(w))
            .collect::<Vec<_>>()
            .join("|")
    );
    // "Hans-Böckler-Str.", "Zeppelinstraße", "Alte Landstraße", "Am Anger", "Im Tal".
    // One leading adjective ("Alte Landstraße") at most: any capitalised word before would take
    // in the noun before the street ("Anschrift Zeppelinstraße").
    let named = format!(
        r"(?:(?:Alte|Alter|Neue|Neuer|Große|Großer|Kleine|Kleiner|Obere|Untere|Lange|Hohe|Breite|Sankt|St\.)\s)?(?:[A-ZÄÖÜ]{letters}*-){{0,3}}[A-ZÄÖÜ]?{letters}*{street_word}"
    );
    let prefixed = format!(
        r"(?:Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Zum|Zur|Hinter der|Unter den)\s[A-ZÄÖÜ]{letters}+(?:[\-\s][A-ZÄÖÜ]{letters}+)?"
    );
    let number = r"[0-9]{1,4}(?:\s?[a-zA-Z])?(?:[/\-][0-9]{1,4}[a-zA-Z]?)?";
    // "Berlin", "Frankfurt am Main", "Bad Doberan", "Halle (Saale)", "Sankt Augustin".
    let town = format!(
        r"(?:(?:Bad|Sankt|St\.)\s)?[A-ZÄÖÜ]{letters}+(?:-[A-ZÄÖÜ]{letters}+)*(?:\s(?:am|an der|im|in der|ob der|bei|vor der)\s[A-ZÄÖÜ]{letters}+|\s\([A-ZÄÖÜ]{letters}+\))?"
    );
    Regex::new(&format!(
        r"(?:{named}|{prefixed})\s{number},?\s(?:D-)?[0-9]{{5}}\s{town}"
    ))
}
