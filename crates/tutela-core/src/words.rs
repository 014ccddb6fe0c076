//! Dates and times as a person reads them, in German or English, in the controller's time
//! zone: `07.12.2026` and `07.12.2026, 07:27 Uhr` in German, `7 December 2026` and
//! `7 December 2026, 07:27` in English; and long dates for legal texts ("21. November 2003").
//! One place, so the pages, the Art. 15 report and the notice write a date the same way.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::lang::Lang;

const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month(d: Date, lang: Lang) -> &'static str {
    let i = usize::try_from(d.month()).unwrap_or(1).clamp(1, 12) - 1;
    match lang {
        Lang::De => MONTHS_DE[i],
        Lang::En => MONTHS_EN[i],
    }
}

/// A calendar day: `31.12.2026` in German, `31 December 2026` in English.
pub fn day(d: Date, lang: Lang) -> String {
    match lang {
        Lang::De => d.strftime("%d.%m.%Y").to_string(),
        Lang::En => format!("{} {} {}", d.day(), month(d, lang), d.year()),
    }
}

/// A notice version in words: `2026-01` is "Januar 2026" / "January 2026", as the printed
/// notice says "Stand Januar 2026"; a full date is written out; anything else stays as written.
pub fn version(version: &str, lang: Lang) -> String {
    if let Ok(d) = version.parse::<Date>() {
        return long_day(d, lang);
    }
    match format!("{version}-01").parse::<Date>() {
        Ok(d) => format!("{} {}", month(d, lang), d.year()),
        Err(_) => version.to_owned(),
    }
}

/// A calendar day written out, as legal texts name decisions: `21. November 2003`,
/// `21 November 2003`.
pub fn long_day(d: Date, lang: Lang) -> String {
    match lang {
        Lang::De => format!("{}. {} {}", d.day(), month(d, lang), d.year()),
        Lang::En => format!("{} {} {}", d.day(), month(d, lang), d.year()),
    }
}

/// The day of an instant in the time zone `tz`.
pub fn date(at: Timestamp, tz: &TimeZone, lang: Lang) -> String {
    day(at.to_zoned(tz.clone()).date(), lang)
}

/// A calendar date written `YYYY-MM-DD` as [`date`] writes dates; anything else as it is.
pub fn civil_date(text: &str, lang: Lang) -> String {
    match text.parse::<Date>() {
        Ok(d) => day(d, lang),
        Err(_) => text.to_owned(),
    }
}

/// An instant to the minute in the time zone `tz`: `07.12.2026, 07:27 Uhr`,
/// `7 December 2026, 07:27`.
pub fn date_time(at: Timestamp, tz: &TimeZone, lang: Lang) -> String {
    let z = at.to_zoned(tz.clone());
    let time = z.strftime("%H:%M");
    match lang {
        Lang::De => format!("{}, {time} Uhr", day(z.date(), lang)),
        Lang::En => format!("{}, {time}", day(z.date(), lang)),
    }
}

/// A stored value that is an instant or a calendar date, in words; `None` for anything else.
/// Databases write instants in several ways (`2026-12-07T06:27:53Z`, `2026-12-07 06:27:53+00`),
/// so both are read.
pub fn stored_time(text: &str, tz: &TimeZone, lang: Lang) -> Option<String> {
    let t = text.trim();
    if let Ok(at) = t.parse::<Timestamp>() {
        return Some(date_time(at, tz, lang));
    }
    if let Ok(at) = t.replacen(' ', "T", 1).parse::<Timestamp>() {
        return Some(date_time(at, tz, lang));
    }
    if t.len() == 10
        && let Ok(d) = t.parse::<Date>()
    {
        return Some(day(d, lang));
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>()
        && let Ok(z) = dt.to_zoned(tz.clone())
    {
        return Some(date_time(z.timestamp(), tz, lang));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC)
    }

    #[test]
    fn a_notice_version_reads_as_its_month() {
        assert_eq!(version("2026-01", Lang::De), "Januar 2026");
        assert_eq!(version("2026-01", Lang::En), "January 2026");
        assert_eq!(version("2026-07-15", Lang::De), "15. Juli 2026");
        assert_eq!(version("v7", Lang::En), "v7");
    }

    #[test]
    fn an_instant_reads_in_the_controllers_time_zone_to_the_minute() {
        let at: Timestamp = "2026-12-07T06:27:53.905462736Z"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(date_time(at, &berlin(), Lang::De), "07.12.2026, 07:27 Uhr");
        assert_eq!(date_time(at, &berlin(), Lang::En), "7 December 2026, 07:27");
        assert_eq!(date(at, &berlin(), Lang::De), "07.12.2026");
        assert_eq!(date(at, &berlin(), Lang::En), "7 December 2026");
    }

    #[test]
    fn calendar_dates_and_long_dates() {
        assert_eq!(civil_date("2034-12-31", Lang::De), "31.12.2034");
        assert_eq!(civil_date("2034-12-31", Lang::En), "31 December 2034");
        assert_eq!(civil_date("someday", Lang::De), "someday");
        let d = jiff::civil::date(2003, 11, 21);
        assert_eq!(long_day(d, Lang::De), "21. November 2003");
        assert_eq!(long_day(d, Lang::En), "21 November 2003");
    }

    #[test]
    fn stored_values_that_are_times_read_as_words() {
        let tz = berlin();
        assert_eq!(
            stored_time("2026-03-01 10:00:00+00", &tz, Lang::De).as_deref(),
            Some("01.03.2026, 11:00 Uhr")
        );
        assert_eq!(
            stored_time("2026-03-01", &tz, Lang::En).as_deref(),
            Some("1 March 2026")
        );
        assert_eq!(
            stored_time("2026-03-01T10:00:00", &tz, Lang::En).as_deref(),
            Some("1 March 2026, 10:00")
        );
        assert_eq!(stored_time("Anna", &tz, Lang::De), None);
        assert_eq!(stored_time("12345", &tz, Lang::De), None);
    }
}
