//! Country names in German and English for the codes the policy and the law notes use
//! (EEA members, countries with an adequacy decision, recipients' countries). One table, so the
//! privacy notice and the Art. 15 report name a country the same way.

use crate::lang::Lang;

/// ISO 3166-1 alpha-2 code, German name, English name.
const COUNTRIES: &[(&str, &str, &str)] = &[
    ("AD", "Andorra", "Andorra"),
    ("AR", "Argentinien", "Argentina"),
    ("AT", "Österreich", "Austria"),
    ("AU", "Australien", "Australia"),
    ("BE", "Belgien", "Belgium"),
    ("BG", "Bulgarien", "Bulgaria"),
    ("BR", "Brasilien", "Brazil"),
    ("CA", "Kanada", "Canada"),
    ("CH", "Schweiz", "Switzerland"),
    ("CN", "China", "China"),
    ("CY", "Zypern", "Cyprus"),
    ("CZ", "Tschechien", "Czechia"),
    ("DE", "Deutschland", "Germany"),
    ("DK", "Dänemark", "Denmark"),
    ("EE", "Estland", "Estonia"),
    ("ES", "Spanien", "Spain"),
    ("FI", "Finnland", "Finland"),
    ("FO", "Färöer", "Faroe Islands"),
    ("FR", "Frankreich", "France"),
    ("GB", "Vereinigtes Königreich", "United Kingdom"),
    ("GG", "Guernsey", "Guernsey"),
    ("GR", "Griechenland", "Greece"),
    ("HR", "Kroatien", "Croatia"),
    ("HU", "Ungarn", "Hungary"),
    ("IE", "Irland", "Ireland"),
    ("IL", "Israel", "Israel"),
    ("IM", "Isle of Man", "Isle of Man"),
    ("IN", "Indien", "India"),
    ("IS", "Island", "Iceland"),
    ("IT", "Italien", "Italy"),
    ("JE", "Jersey", "Jersey"),
    ("JP", "Japan", "Japan"),
    ("KR", "Republik Korea", "Republic of Korea"),
    ("LI", "Liechtenstein", "Liechtenstein"),
    ("LT", "Litauen", "Lithuania"),
    ("LU", "Luxemburg", "Luxembourg"),
    ("LV", "Lettland", "Latvia"),
    ("MT", "Malta", "Malta"),
    ("NL", "Niederlande", "Netherlands"),
    ("NO", "Norwegen", "Norway"),
    ("NZ", "Neuseeland", "New Zealand"),
    ("PL", "Polen", "Poland"),
    ("PT", "Portugal", "Portugal"),
    ("RO", "Rumänien", "Romania"),
    ("SE", "Schweden", "Sweden"),
    ("SI", "Slowenien", "Slovenia"),
    ("SK", "Slowakei", "Slovakia"),
    ("TR", "Türkei", "Türkiye"),
    ("UA", "Ukraine", "Ukraine"),
    ("US", "Vereinigte Staaten", "United States"),
    ("UY", "Uruguay", "Uruguay"),
];

/// The country's name in `lang`; a code not in the table comes back as written, so an unknown
/// country stays visible rather than disappearing from a notice.
pub fn country_name(code: &str, lang: Lang) -> String {
    let found = COUNTRIES
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(code));
    match (found, lang) {
        (Some((_, de, _)), Lang::De) => (*de).to_string(),
        (Some((_, _, en)), Lang::En) => (*en).to_string(),
        (None, _) => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_both_languages() {
        assert_eq!(country_name("GG", Lang::De), "Guernsey");
        assert_eq!(country_name("CH", Lang::De), "Schweiz");
        assert_eq!(country_name("CH", Lang::En), "Switzerland");
        assert_eq!(country_name("kr", Lang::En), "Republic of Korea");
    }

    #[test]
    fn unknown_code_stays_visible() {
        assert_eq!(country_name("XX", Lang::De), "XX");
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
