//! IAB Europe Transparency & Consent Framework strings (TCF v2.2 and v2.3, N20): the consent a
//! website's or app's banner collected, decoded from its base64url bit fields. Segments: the
//! core string, then optionally disclosed vendors (type 1) and publisher purposes (type 3).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcfError {
    #[error("the string is empty")]
    Empty,
    #[error("segment {segment} is not base64url (character {at})")]
    NotBase64 { segment: usize, at: usize },
    #[error("segment {segment} ends at bit {at}, before its field `{field}`")]
    Truncated {
        segment: usize,
        at: usize,
        field: &'static str,
    },
    #[error("version {0} is not TCF v2")]
    Version(u64),
    #[error("segment {segment} has the unknown type {kind}")]
    SegmentType { segment: usize, kind: u64 },
    #[error("a vendor range runs backwards ({start} to {end})")]
    Range { start: u64, end: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcString {
    pub version: u8,
    /// Deciseconds since the epoch, as in the string.
    pub created_ds: u64,
    pub last_updated_ds: u64,
    pub cmp_id: u16,
    pub cmp_version: u16,
    pub consent_screen: u8,
    pub consent_language: String,
    pub vendor_list_version: u16,
    /// 4 for TCF v2.2, 5 for v2.3.
    pub policy_version: u8,
    pub is_service_specific: bool,
    pub use_non_standard_texts: bool,
    pub special_feature_optins: Vec<u16>,
    pub purpose_consents: Vec<u16>,
    pub purpose_legitimate_interests: Vec<u16>,
    pub purpose_one_treatment: bool,
    pub publisher_country_code: String,
    pub vendor_consents: Vec<u16>,
    pub vendor_legitimate_interests: Vec<u16>,
    /// (purpose, restriction type, vendors).
    pub publisher_restrictions: Vec<(u16, u8, Vec<u16>)>,
    pub disclosed_vendors: Option<Vec<u16>>,
    pub publisher_consents: Option<Vec<u16>>,
    pub publisher_legitimate_interests: Option<Vec<u16>>,
}

struct Bits<'a> {
    bytes: &'a [u8],
    at: usize,
    segment: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize, field: &'static str) -> Result<u64, TcfError> {
        if self.at + n > self.bytes.len() * 8 {
            return Err(TcfError::Truncated {
                segment: self.segment,
                at: self.at,
                field,
            });
        }
        let mut v = 0u64;
        for i in self.at..self.at + n {
            let bit = (self.bytes[i / 8] >> (7 - i % 8)) & 1;
            v = (v << 1) | u64::from(bit);
        }
        self.at += n;
        Ok(v)
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, TcfError> {
        Ok(self.read(1, field)? == 1)
    }

    /// The ids (from 1) whose bit is set, in a field of `n` bits.
    fn bitfield(&mut self, n: usize, field: &'static str) -> Result<Vec<u16>, TcfError> {
        let mut out = Vec::new();
        for id in 1..=n {
            if self.flag(field)? {
                out.push(id as u16);
            }
        }
        Ok(out)
    }

    fn letters(&mut self, field: &'static str) -> Result<String, TcfError> {
        let a = self.read(6, field)?;
        let b = self.read(6, field)?;
        Ok([a, b]
            .iter()
            .map(|c| char::from(b'A' + (*c as u8 % 26)))
            .collect())
    }

    fn ranges(&mut self, field: &'static str) -> Result<Vec<u16>, TcfError> {
        let entries = self.read(12, field)?;
        let mut out = Vec::new();
        for _ in 0..entries {
            let is_range = self.flag(field)?;
            let start = self.read(16, field)?;
            let end = if is_range {
                self.read(16, field)?
            } else {
                start
            };
            if end < start {
                return Err(TcfError::Range { start, end });
            }
            out.extend((start..=end).map(|v| v as u16));
        }
        Ok(out)
    }

    /// A vendor section: MaxVendorId, then a bit field or range entries.
    fn vendors(&mut self, field: &'static str) -> Result<Vec<u16>, TcfError> {
        let max = self.read(16, field)? as usize;
        if self.flag(field)? {
            let mut v = self.ranges(field)?;
            v.retain(|id| usize::from(*id) <= max);
            Ok(v)
        } else {
            self.bitfield(max, field)
        }
    }
}

fn base64url(segment: &str, index: usize) -> Result<Vec<u8>, TcfError> {
    let mut out = Vec::with_capacity(segment.len() * 3 / 4 + 1);
    let (mut acc, mut n) = (0u32, 0u32);
    for (i, c) in segment.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => continue,
            _ => {
                return Err(TcfError::NotBase64 {
                    segment: index,
                    at: i,
                });
            }
        };
        acc = (acc << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
    }
    if n > 0 {
        // Trailing bits belong to the last, partial byte.
        out.push((acc << (8 - n)) as u8);
    }
    Ok(out)
}

/// Decodes a TC string.
pub fn decode(s: &str) -> Result<TcString, TcfError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(TcfError::Empty);
    }
    let mut segments = s.split('.');
    let core = base64url(segments.next().unwrap_or(""), 0)?;
    let mut b = Bits {
        bytes: &core,
        at: 0,
        segment: 0,
    };
    let version = b.read(6, "Version")?;
    if version != 2 {
        return Err(TcfError::Version(version));
    }
    let mut tc = TcString {
        version: 2,
        created_ds: b.read(36, "Created")?,
        last_updated_ds: b.read(36, "LastUpdated")?,
        cmp_id: b.read(12, "CmpId")? as u16,
        cmp_version: b.read(12, "CmpVersion")? as u16,
        consent_screen: b.read(6, "ConsentScreen")? as u8,
        consent_language: b.letters("ConsentLanguage")?,
        vendor_list_version: b.read(12, "VendorListVersion")? as u16,
        policy_version: b.read(6, "TcfPolicyVersion")? as u8,
        is_service_specific: b.flag("IsServiceSpecific")?,
        use_non_standard_texts: b.flag("UseNonStandardTexts")?,
        special_feature_optins: b.bitfield(12, "SpecialFeatureOptIns")?,
        purpose_consents: b.bitfield(24, "PurposesConsent")?,
        purpose_legitimate_interests: b.bitfield(24, "PurposesLITransparency")?,
        purpose_one_treatment: b.flag("PurposeOneTreatment")?,
        publisher_country_code: b.letters("PublisherCC")?,
        ..TcString::default()
    };
    tc.vendor_consents = b.vendors("VendorConsents")?;
    tc.vendor_legitimate_interests = b.vendors("VendorLegitimateInterests")?;
    let restrictions = b.read(12, "NumPubRestrictions")?;
    for _ in 0..restrictions {
        let purpose = b.read(6, "PurposeId")? as u16;
        let kind = b.read(2, "RestrictionType")? as u8;
        let vendors = b.ranges("PubRestrictionEntry")?;
        tc.publisher_restrictions.push((purpose, kind, vendors));
    }
    for (i, seg) in segments.enumerate() {
        let bytes = base64url(seg, i + 1)?;
        let mut b = Bits {
            bytes: &bytes,
            at: 0,
            segment: i + 1,
        };
        match b.read(3, "SegmentType")? {
            1 | 2 => tc.disclosed_vendors = Some(b.vendors("DisclosedVendors")?),
            3 => {
                tc.publisher_consents = Some(b.bitfield(24, "PubPurposesConsent")?);
                tc.publisher_legitimate_interests =
                    Some(b.bitfield(24, "PubPurposesLITransparency")?);
                // Custom purposes follow; tutela does not map them.
            }
            kind => {
                return Err(TcfError::SegmentType {
                    segment: i + 1,
                    kind,
                });
            }
        }
    }
    Ok(tc)
}

#[cfg(test)]
mod tests {
    use super::{TcfError, decode};

    #[test]
    fn a_string_made_by_the_reference_library_decodes() {
        // Made with @iabtechlabtcf/core 1.5 (see tests/tcf/reference.js).
        let tc = decode(
            "CQuf10AQuf10AAKACBENCWEoAOIAAEJAAAYgH0QA4AAgAEAvMB9AAJAB_wAA.IAAA.YAAAAAAAAAAA",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(tc.cmp_id, 10);
        assert_eq!(tc.policy_version, 4);
        assert_eq!(tc.purpose_consents, vec![1, 2, 3, 7]);
        assert_eq!(tc.purpose_legitimate_interests, vec![2, 7, 10]);
        assert_eq!(tc.vendor_consents, vec![1, 2, 755, 1000]);
        assert_eq!(
            tc.vendor_legitimate_interests,
            (10..=18).collect::<Vec<u16>>()
        );
        assert_eq!(tc.special_feature_optins, vec![1]);
        assert_eq!(tc.publisher_country_code, "DE");
        assert!(tc.is_service_specific);
    }

    #[test]
    fn malformed_strings_are_errors_not_panics() {
        assert_eq!(decode(""), Err(TcfError::Empty));
        assert!(matches!(
            decode("CQ*"),
            Err(TcfError::NotBase64 { at: 2, .. })
        ));
        assert!(matches!(decode("CQuf"), Err(TcfError::Truncated { .. })));
        assert!(matches!(
            decode("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
            Err(TcfError::Version(1))
        ));
        for cut in 1..60 {
            let s = "CQuf10AQuf10AAKACBENCWEoAOIAAEJAAAYgH0QA4AAgAEAvMB9AAJAB_wAA";
            let _ = decode(&s[..cut]);
        }
    }
}
