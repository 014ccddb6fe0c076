//! What a data subject request asks for beyond its type, typed: parsed once where a request
//! comes in (the API, the privacy center, the mail intake) and read as fields everywhere else.
//!
//! The stored form is the JSON object the API takes (`requests.details`, sealed): the keys
//! below, each only when given, and any other key a client sent, kept as sent. Rows written
//! before this type existed read through [`RequestDetails::from_stored`], which never fails: a
//! known key whose value does not fit its type is kept among the other keys, so nothing stored
//! is lost and the rest of the request still reads.
//!
//! At intake the type is strict: a known key of the wrong type is refused (the API names the
//! field, e.g. `details.lang`); unknown keys are accepted and kept (the person's letter may
//! carry more than tutela reads, and the agent sees it as given).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use tutela_core::render::Lang;

/// The details of a request. Every field is optional; which ones a request type needs is the
/// intake's check (an objection on grounds of the person's situation needs its `reason`, a
/// rectification its `changes`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestDetails {
    /// The language of the answer and the report; German when not given.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lang_code")]
    pub lang: Option<Lang>,
    /// An objection's scope: `direct_marketing` (the default), `legitimate_interest`, or a
    /// purpose id of the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Why: an objection's grounds (Art. 21(1)), a restriction's reason (Art. 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A withdrawal's consent purpose; every consent when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// A withdrawal's channel, for a consent given per channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// A rectification's corrections: field → new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<BTreeMap<String, String>>,
    /// Further identifiers of the person: kind (`msisdn`, `imsi`, `customer_number`, …) → one
    /// value or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<BTreeMap<String, Identifiers>>,
    /// The request in the person's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The subject line of the e-mail the request came in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_line: Option<String>,
    /// Who wrote, as they gave it (a letter, a call), unless given in `requester`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Given>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Given>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Given>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<Given>,
    /// Who wrote, as one object; read instead of the top-level `name`, `email`, `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester>,
    /// Any other key, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Who wrote a request, as they gave it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Requester {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Given>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Given>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Given>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<Given>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The requester's own particulars, wherever in the details they were given.
#[derive(Clone, Copy, Debug, Default)]
pub struct Who<'a> {
    pub name: Option<&'a Given>,
    pub email: Option<&'a Given>,
    pub address: Option<&'a Given>,
    pub postal_address: Option<&'a Given>,
}

/// A particular as the person gave it: a text, or its parts (an address as street, postcode,
/// town), kept as given.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Given {
    Text(String),
    Parts(Map<String, Value>),
}

impl Given {
    /// The particular as one line: the text trimmed, or the parts' texts joined; `None` when
    /// it says nothing.
    pub fn words(&self) -> Option<String> {
        match self {
            Given::Text(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
            Given::Parts(parts) => {
                let texts: Vec<&str> = parts.values().filter_map(Value::as_str).collect();
                (!texts.is_empty()).then(|| texts.join(", "))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Given {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Given;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text or an object of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Given, E> {
                Ok(Given::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Given, E> {
                Ok(Given::Text(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Given, A::Error> {
                Map::deserialize(de::value::MapAccessDeserializer::new(map)).map(Given::Parts)
            }
        }
        d.deserialize_any(V)
    }
}

/// One identifier of a kind, or several, kept in the form sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Identifiers {
    One(String),
    Many(Vec<String>),
}

impl Identifiers {
    pub fn values(&self) -> &[String] {
        match self {
            Identifiers::One(v) => std::slice::from_ref(v),
            Identifiers::Many(vs) => vs,
        }
    }
}

impl<'de> Deserialize<'de> for Identifiers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Identifiers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text or an array of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Identifiers, E> {
                Ok(Identifiers::One(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Identifiers, E> {
                Ok(Identifiers::One(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Identifiers, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Identifiers::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// `lang` as its code (`de`, `en`); any other code is refused, naming the ones taken.
mod lang_code {
    use super::*;

    pub fn serialize<S: Serializer>(lang: &Option<Lang>, s: S) -> Result<S::Ok, S::Error> {
        match lang {
            Some(l) => s.serialize_str(l.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Lang>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(code) => Lang::parse(&code)
                .map(Some)
                .ok_or_else(|| de::Error::unknown_variant(&code, &["de", "en"])),
        }
    }
}

/// Why details were not stored.
#[derive(Debug, thiserror::Error)]
#[error("the request's details could not be written as JSON: {0}")]
pub struct DetailsNotWritten(#[from] serde_json::Error);

impl RequestDetails {
    /// Details as a request stores them; never fails on what was stored before (see the module
    /// documentation): text that is no JSON object reads as no details.
    pub fn from_stored(stored: Option<&str>) -> RequestDetails {
        let Some(stored) = stored else {
            return RequestDetails::default();
        };
        if let Ok(d) = serde_json::from_str::<RequestDetails>(stored) {
            return d;
        }
        match serde_json::from_str::<Value>(stored) {
            Ok(Value::Object(map)) => RequestDetails::leniently(map),
            _ => {
                tracing::warn!("a request's stored details are not a JSON object; read as none");
                RequestDetails::default()
            }
        }
    }

    /// An object some of whose known keys do not fit their types: those keys are kept among
    /// the others, as stored, and the rest is read.
    fn leniently(map: Map<String, Value>) -> RequestDetails {
        let (fits, misfits): (Map<String, Value>, Map<String, Value>) =
            map.into_iter().partition(|(k, v)| {
                let one = Map::from_iter([(k.clone(), v.clone())]);
                serde_json::from_value::<RequestDetails>(Value::Object(one)).is_ok()
            });
        let mut d: RequestDetails = serde_json::from_value(Value::Object(fits)).unwrap_or_default();
        d.other.extend(misfits);
        d
    }

    /// The JSON text a request stores.
    pub fn to_stored(&self) -> Result<String, DetailsNotWritten> {
        Ok(serde_json::to_string(self)?)
    }

    /// The language to answer in: the one asked for, German otherwise.
    pub fn lang_or_default(&self) -> Lang {
        self.lang.unwrap_or(Lang::De)
    }

    /// The further identifiers, kind by kind.
    pub fn identities(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.identities
            .iter()
            .flatten()
            .map(|(kind, values)| (kind.as_str(), values.values()))
    }

    /// The requester's particulars: those in `requester` when it is given, else the top-level
    /// ones.
    pub fn who(&self) -> Who<'_> {
        match &self.requester {
            Some(r) => Who {
                name: r.name.as_ref(),
                email: r.email.as_ref(),
                address: r.address.as_ref(),
                postal_address: r.postal_address.as_ref(),
            },
            None => Who {
                name: self.name.as_ref(),
                email: self.email.as_ref(),
                address: self.address.as_ref(),
                postal_address: self.postal_address.as_ref(),
            },
        }
    }

    /// A rectification's new value of `field`.
    pub fn change(&self, field: &str) -> Option<&str> {
        self.changes.as_ref()?.get(field).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_text_of_before_reads_and_writes_back_the_same() {
        // As `Value::to_string` wrote it before the type existed.
        let old = r#"{"changes":{"email":"new@example.org","street":"Am Markt 5"},"identities":{"customer_number":["L-9"],"msisdn":"4915112345678"},"lang":"en","letter_ref":{"box":7},"reason":"accuracy contested","text":"Bitte korrigieren"}"#;
        let d = RequestDetails::from_stored(Some(old));
        assert_eq!(d.lang, Some(Lang::En));
        assert_eq!(d.change("email"), Some("new@example.org"));
        assert_eq!(d.reason.as_deref(), Some("accuracy contested"));
        assert_eq!(d.text.as_deref(), Some("Bitte korrigieren"));
        let ids: Vec<(&str, &[String])> = d.identities().collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[1], ("msisdn", &["4915112345678".to_owned()][..]));
        assert_eq!(d.other["letter_ref"], json!({"box": 7}));
        let again: Value = serde_json::from_str(&d.to_stored().expect("written")).expect("json");
        let before: Value = serde_json::from_str(old).expect("json");
        assert_eq!(again, before);
    }

    #[test]
    fn a_stored_key_of_another_type_is_kept_and_the_rest_reads() {
        let old = r#"{"lang":"fr","scope":"direct_marketing","changes":{"age":44},"text":"Hallo"}"#;
        let d = RequestDetails::from_stored(Some(old));
        assert_eq!(d.lang, None);
        assert_eq!(d.scope.as_deref(), Some("direct_marketing"));
        assert_eq!(d.text.as_deref(), Some("Hallo"));
        assert_eq!(d.changes, None);
        assert_eq!(d.other["lang"], json!("fr"));
        assert_eq!(d.other["changes"], json!({"age": 44}));
        let again: Value = serde_json::from_str(&d.to_stored().expect("written")).expect("json");
        assert_eq!(again, serde_json::from_str::<Value>(old).expect("json"));
    }

    #[test]
    fn nothing_or_no_object_stored_reads_as_no_details() {
        assert_eq!(RequestDetails::from_stored(None), RequestDetails::default());
        assert_eq!(
            RequestDetails::from_stored(Some("[1]")),
            RequestDetails::default()
        );
        assert_eq!(
            RequestDetails::from_stored(Some("{}")).lang_or_default(),
            Lang::De
        );
    }

    #[test]
    fn intake_refuses_a_known_key_of_the_wrong_type() {
        let e = serde_json::from_value::<RequestDetails>(json!({"lang": "fr"}))
            .expect_err("fr is no language");
        assert!(e.to_string().contains("unknown variant `fr`"), "{e}");
        for bad in [
            json!({"changes": {"city": 5}}),
            json!({"identities": {"msisdn": 4915}}),
            json!({"reason": ["x"]}),
            json!({"lang": 1}),
        ] {
            assert!(
                serde_json::from_value::<RequestDetails>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_requester_reads_from_its_object_or_the_top_level() {
        let d: RequestDetails = serde_json::from_value(json!({
            "name": "Rosa Rot",
            "address": {"street": "Am Markt 3", "town": "53111 Bonn"},
        }))
        .expect("details");
        let who = d.who();
        assert_eq!(who.name.and_then(Given::words).as_deref(), Some("Rosa Rot"));
        assert_eq!(
            who.address.and_then(Given::words).as_deref(),
            Some("Am Markt 3, 53111 Bonn")
        );
        let d: RequestDetails =
            serde_json::from_value(json!({"name": "x", "requester": {"name": "  Lena  "}}))
                .expect("details");
        assert_eq!(d.who().name.and_then(Given::words).as_deref(), Some("Lena"));
    }
}
