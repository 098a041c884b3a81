//! Value representations.

use std::fmt;

macro_rules! vrs {
    ($($name:ident),*) => {
        /// A value representation (PS3.5 6.2).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Vr { $($name),* }

        impl Vr {
            pub fn from_bytes(bytes: [u8; 2]) -> Option<Vr> {
                match &bytes {
                    $(x if x == stringify!($name).as_bytes() => Some(Vr::$name),)*
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Vr::$name => stringify!($name)),* }
            }
        }
    };
}

vrs!(
    AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW, PN, SH, SL, SQ, SS, ST,
    SV, TM, UC, UI, UL, UN, UR, US, UT, UV
);

impl Vr {
    /// Explicit VR encodings give these VRs a 2-byte reserved field and a 4-byte length.
    pub fn has_long_length(self) -> bool {
        matches!(
            self,
            Vr::OB
                | Vr::OD
                | Vr::OF
                | Vr::OL
                | Vr::OV
                | Vr::OW
                | Vr::SQ
                | Vr::SV
                | Vr::UC
                | Vr::UN
                | Vr::UR
                | Vr::UT
                | Vr::UV
        )
    }

    /// Text VRs whose bytes go through the Specific Character Set.
    pub fn is_charset_text(self) -> bool {
        matches!(
            self,
            Vr::LO | Vr::LT | Vr::PN | Vr::SH | Vr::ST | Vr::UC | Vr::UT
        )
    }

    /// VRs holding text of any repertoire (including the ASCII-only ones).
    pub fn is_string(self) -> bool {
        self.is_charset_text()
            || matches!(
                self,
                Vr::AE
                    | Vr::AS
                    | Vr::CS
                    | Vr::DA
                    | Vr::DS
                    | Vr::DT
                    | Vr::IS
                    | Vr::TM
                    | Vr::UI
                    | Vr::UR
            )
    }

    /// VRs whose value is opaque bytes or words rather than text or numbers.
    pub fn is_binary(self) -> bool {
        matches!(
            self,
            Vr::OB | Vr::OD | Vr::OF | Vr::OL | Vr::OV | Vr::OW | Vr::UN
        )
    }
}

impl fmt::Display for Vr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
