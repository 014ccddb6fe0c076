//! The languages tutela writes in. Its own file because everything that words a text — the
//! notice, the reports, the legal bases, country names, the policy's labels — names it, and
//! none of them should depend on the notice renderer for it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }
}

/// A table of texts in German and English, side by side: one line per text, so a text cannot
/// exist in one language only. Defines `Texts` (a field per text), its two tables `DE` and `EN`
/// and `texts(lang)`, in the module where it is called (the pages, operator accounts).
#[macro_export]
macro_rules! bilingual_texts {
    ($($name:ident: $de:literal, $en:literal;)*) => {
        /// The texts in one language.
        pub struct Texts { $(pub $name: &'static str,)* }
        pub static DE: Texts = Texts { $($name: $de,)* };
        pub static EN: Texts = Texts { $($name: $en,)* };

        /// The texts in `lang`.
        pub fn texts(lang: $crate::lang::Lang) -> &'static Texts {
            match lang {
                $crate::lang::Lang::De => &DE,
                $crate::lang::Lang::En => &EN,
            }
        }
    };
}
