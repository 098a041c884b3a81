//! Decoding of text values for every Specific Character Set (0008,0005) (PS3.3 C.12.1.1.2, PS3.5 6.1).
//!
//! Two families of character sets exist:
//!
//! - *Stand-alone* encodings (ISO_IR 192 = UTF-8, GB18030, GBK) cover the whole value; they allow no
//!   code extensions, so an ESC byte in them is just a (strange) control character.
//! - Everything else is an ISO 2022 8-bit code: bytes 0x21..=0x7E show the set designated to G0
//!   (ASCII unless a Japanese two-byte set was designated), bytes 0x80..=0xFF the set designated to G1
//!   (Latin-1, Cyrillic, katakana, Korean, ...). Value 1 of (0008,0005) gives the initial sets; an
//!   escape sequence (PS3.3 tables C.12-3 and C.12-4) selects others until the next one, and the
//!   initial sets come back before delimiters and control characters (PS3.5 6.1.2.5.3).
//!
//! pydicom (`pydicom/charset.py`) is the reference: `tests/charsets.rs` compares with it on its own
//! `charset_files`. Like pydicom, the value is split into fragments at each ESC and each fragment is
//! decoded with one code. Where we differ, on purpose:
//!
//! - escape sequences are honoured even when (0008,0005) does not declare them (pydicom leaves them,
//!   ESC included, in the text), and an unknown one becomes U+FFFD instead of a raw ESC;
//! - a bad byte costs one U+FFFD, not the whole fragment (pydicom then re-decodes the fragment with
//!   the first encoding, escape bytes and all);
//! - `^`, `=` and `\` reset in names and multi-valued strings as PS3.5 says (pydicom's reader resets
//!   on control characters only, though its writer relies on the reset), and control characters end
//!   JIS X 0208 too (Python's codec carries it over a line break);
//! - `ESC ( B` returns G1 to the initial set (pydicom: always Latin-1);
//! - `ESC $ ) A` (GB 2312) works: pydicom leaves the escape sequence in the text. Its 0xA1A4 and
//!   0xA1AA read as GBK has them (· U+00B7, — U+2014), not as Python's gb2312 (U+30FB, U+2015);
//! - GB18030 uses encoding_rs's GB18030-2022 mapping (about twenty two-byte codes that Python maps to
//!   private-use characters have standard ones), and ISO-IR 166 reads 0xA0 as NO-BREAK SPACE
//!   (ISO 8859-11) where Python's tis_620 has no character.
//!
//! Decoding never fails: bytes that mean nothing in the active set become U+FFFD.

use encoding_rs::Encoding;

const ESC: u8 = 0x1B;
const REPLACEMENT: char = '\u{FFFD}';

/// How a value's text is split when code extensions reset (PS3.5 6.1.2.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// PN: the initial character sets return before `^` (components), `=` (component groups),
    /// `\` (values) and control characters.
    PersonName,
    /// SH, LO, UC and other multi-valued strings: `\` separates values; control characters also reset.
    MultiValued,
    /// ST, LT, UT: a single value where only control characters (CR, LF, FF, TAB, ...) reset.
    Text,
}

/// The character sets a value's text is decoded with: the initial state from value 1 of
/// (0008,0005), plus the terms as given and those that were not understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecificCharacterSet {
    terms: Vec<String>,
    unknown: Vec<String>,
    mode: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// ISO 2022: escape sequences switch G0/G1 and delimiters return to this initial state.
    Iso2022(State),
    /// One encoding for the whole value, no code extensions.
    StandAlone(&'static Encoding),
}

/// The sets designated to G0 and G1 at some point of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    g0: G0,
    g1: G1,
}

/// Character sets that can be designated to G0 (bytes 0x21..=0x7E).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum G0 {
    /// ISO-IR 6 (ASCII). Also stands for ISO-IR 14 (JIS X 0201 romaji, `ESC ( J`): it differs only by
    /// ¥ at 0x5C and ‾ at 0x7E, which pydicom (and every viewer we know) shows as `\` and `~`.
    Ascii,
    /// ISO-IR 87, JIS X 0208 (`ESC $ B`): two bytes per character.
    JisX0208,
    /// ISO-IR 159, JIS X 0212 (`ESC $ ( D`): two bytes per character.
    JisX0212,
}

/// Character sets that can be designated to G1 (bytes 0x80..=0xFF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum G1 {
    /// ISO-IR 100. Also used for high bytes when no G1 set was named (the default repertoire): strictly
    /// they are invalid there, but pydicom reads them as Latin-1 and so do we.
    Latin1,
    /// ISO-IR 101.
    Latin2,
    /// ISO-IR 109.
    Latin3,
    /// ISO-IR 110.
    Latin4,
    /// ISO-IR 144 (ISO 8859-5).
    Cyrillic,
    /// ISO-IR 127 (ISO 8859-6).
    Arabic,
    /// ISO-IR 126 (ISO 8859-7).
    Greek,
    /// ISO-IR 138 (ISO 8859-8).
    Hebrew,
    /// ISO-IR 148 (ISO 8859-9).
    Latin5,
    /// ISO-IR 166 (TIS 620-2533).
    Thai,
    /// ISO-IR 203 (ISO 8859-15).
    Latin9,
    /// ISO-IR 13 (JIS X 0201 katakana), decoded as Shift_JIS: identical for JIS X 0201 bytes, and it
    /// also reads the Shift_JIS kanji that many Japanese writers put under "ISO_IR 13" (pydicom too).
    Katakana,
    /// ISO-IR 149 (KS X 1001), decoded as EUC-KR.
    KsX1001,
    /// ISO-IR 58 (GB 2312), decoded as GBK (a superset of EUC-CN).
    Gb2312,
}

/// What an escape sequence does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Designation {
    G0(G0),
    G1(G1),
}

/// Escape sequences of PS3.3 tables C.12-3 and C.12-4.
const ESCAPE_SEQUENCES: &[(&[u8], Designation)] = &[
    (b"\x1b(B", Designation::G0(G0::Ascii)),
    (b"\x1b(J", Designation::G0(G0::Ascii)), // ISO-IR 14, read as ASCII (see `G0::Ascii`)
    (b"\x1b$B", Designation::G0(G0::JisX0208)),
    (b"\x1b$(D", Designation::G0(G0::JisX0212)),
    (b"\x1b-A", Designation::G1(G1::Latin1)),
    (b"\x1b-B", Designation::G1(G1::Latin2)),
    (b"\x1b-C", Designation::G1(G1::Latin3)),
    (b"\x1b-D", Designation::G1(G1::Latin4)),
    (b"\x1b-L", Designation::G1(G1::Cyrillic)),
    (b"\x1b-G", Designation::G1(G1::Arabic)),
    (b"\x1b-F", Designation::G1(G1::Greek)),
    (b"\x1b-H", Designation::G1(G1::Hebrew)),
    (b"\x1b-M", Designation::G1(G1::Latin5)),
    (b"\x1b-T", Designation::G1(G1::Thai)),
    (b"\x1b-b", Designation::G1(G1::Latin9)),
    (b"\x1b)I", Designation::G1(G1::Katakana)),
    (b"\x1b$)C", Designation::G1(G1::KsX1001)),
    (b"\x1b$)A", Designation::G1(G1::Gb2312)),
];

/// The escape sequence `bytes` starts with, and its length; `None` for an unknown or truncated one.
fn parse_escape(bytes: &[u8]) -> Option<(usize, Designation)> {
    ESCAPE_SEQUENCES
        .iter()
        .find(|(sequence, _)| bytes.starts_with(sequence))
        .map(|(sequence, designation)| (sequence.len(), *designation))
}

const DEFAULT_STATE: State = State {
    g0: G0::Ascii,
    g1: G1::Latin1,
};

/// What one value of (0008,0005) stands for.
enum Term {
    Iso2022(State),
    StandAlone(&'static Encoding),
}

/// Interprets one defined term, tolerating the misspellings pydicom tolerates ("ISO IR 100",
/// "ISO-IR 100", "ISO_2022_IR_87"...) by comparing upper-cased words only. As a last resort the term
/// may be an encoding label ("UTF-8", "latin1"), which pydicom also accepts (as Python codec names).
fn parse_term(term: &str) -> Option<Term> {
    let words: Vec<String> = term
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let g1 = |g1| Some(Term::Iso2022(State { g0: G0::Ascii, g1 }));
    let ir = match words.as_slice() {
        [] => return Some(Term::Iso2022(DEFAULT_STATE)),
        ["GB18030"] => return Some(Term::StandAlone(encoding_rs::GB18030)),
        // "ISO 2022 GBK" and "ISO 2022 58" are in pydicom's table (from CP 1234 drafts).
        ["GBK"] | ["ISO", "2022", "GBK"] => return Some(Term::StandAlone(encoding_rs::GBK)),
        ["ISO", "2022", "58"] => return g1(G1::Gb2312),
        ["ISO", "IR", n] | ["ISO", "2022", "IR", n] => *n,
        _ => return encoding_label(term),
    };
    match ir {
        // A multi-byte G0 set can only be invoked by its escape sequence, so as value 1 it leaves
        // ASCII in G0 (as Python's iso2022_jp codec, which pydicom uses, starts in ASCII).
        "6" | "87" | "159" => g1(G1::Latin1),
        "100" => g1(G1::Latin1),
        "101" => g1(G1::Latin2),
        "109" => g1(G1::Latin3),
        "110" => g1(G1::Latin4),
        "144" => g1(G1::Cyrillic),
        "127" => g1(G1::Arabic),
        "126" => g1(G1::Greek),
        "138" => g1(G1::Hebrew),
        "148" => g1(G1::Latin5),
        "166" => g1(G1::Thai),
        "203" => g1(G1::Latin9),
        "13" => g1(G1::Katakana),
        "149" => g1(G1::KsX1001),
        "58" => g1(G1::Gb2312),
        "192" => Some(Term::StandAlone(encoding_rs::UTF_8)),
        _ => None,
    }
}

fn encoding_label(term: &str) -> Option<Term> {
    // Only ASCII-compatible encodings: the value's delimiters and padding are ASCII bytes.
    Encoding::for_label_no_replacement(term.as_bytes())
        .filter(|encoding| encoding.is_ascii_compatible())
        .map(Term::StandAlone)
}

impl Default for SpecificCharacterSet {
    fn default() -> Self {
        SpecificCharacterSet {
            terms: Vec::new(),
            unknown: Vec::new(),
            mode: Mode::Iso2022(DEFAULT_STATE),
        }
    }
}

impl SpecificCharacterSet {
    /// Default repertoire (ISO-IR 6 / ASCII). Bytes above 0x7F, invalid there, read as Latin-1 like pydicom.
    #[allow(clippy::should_implement_trait)] // it is implemented too; the inherent one needs no import
    pub fn default() -> Self {
        <Self as Default>::default()
    }

    /// From the values of (0008,0005), e.g. `["", "ISO 2022 IR 87"]` or `["ISO_IR 192"]`.
    ///
    /// Value 1 sets the initial character sets (an empty value 1 means ISO-IR 6). Further values only
    /// declare which code extensions the text may use: every escape sequence of PS3.3 C.12-3/C.12-4 is
    /// honoured whether declared or not, so they do not change decoding. Terms that name no character
    /// set are kept (see [`unknown_terms`](Self::unknown_terms)); an unknown value 1 falls back to
    /// ISO-IR 100 (Latin-1), as pydicom does with a warning.
    pub fn from_terms<S: AsRef<str>>(terms: &[S]) -> Self {
        let terms: Vec<String> = terms
            .iter()
            .map(|t| t.as_ref().trim_matches([' ', '\0']).to_string())
            .collect();
        let mut unknown = Vec::new();
        let mut mode = Mode::Iso2022(DEFAULT_STATE);
        for (i, term) in terms.iter().enumerate() {
            match parse_term(term) {
                Some(Term::Iso2022(state)) if i == 0 => mode = Mode::Iso2022(state),
                Some(Term::StandAlone(encoding)) if i == 0 => mode = Mode::StandAlone(encoding),
                Some(_) => {}
                None => unknown.push(term.clone()),
            }
        }
        SpecificCharacterSet {
            terms,
            unknown,
            mode,
        }
    }

    /// From the raw bytes of a (0008,0005) value (backslash-separated, possibly padded).
    pub fn from_value(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches([' ', '\0']);
        if text.is_empty() {
            return Self::default();
        }
        let terms: Vec<&str> = text.split('\\').collect();
        Self::from_terms(&terms)
    }

    /// The values of (0008,0005) this was made from, trimmed of padding.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The values of (0008,0005) that name no known character set.
    pub fn unknown_terms(&self) -> &[String] {
        &self.unknown
    }

    /// True when decoding is plain UTF-8 passthrough: `decode` then equals `String::from_utf8_lossy`
    /// for every input, so callers may take that fast path. Only ISO_IR 192 (or a "UTF-8" label)
    /// qualifies: the default repertoire reads high bytes as Latin-1.
    pub fn is_utf8_compatible(&self) -> bool {
        self.mode == Mode::StandAlone(encoding_rs::UTF_8)
    }

    /// Decodes one element's raw value (padding is not removed: the caller trims). Never fails:
    /// undecodable bytes, unknown and truncated escape sequences become U+FFFD.
    pub fn decode(&self, bytes: &[u8], kind: TextKind) -> String {
        match self.mode {
            Mode::StandAlone(encoding) if encoding == encoding_rs::UTF_8 => {
                String::from_utf8_lossy(bytes).into_owned()
            }
            Mode::StandAlone(encoding) => {
                encoding.decode_without_bom_handling(bytes).0.into_owned()
            }
            Mode::Iso2022(initial) => decode_iso2022(initial, bytes, kind),
        }
    }
}

/// Decodes a value under ISO 2022 code extensions.
///
/// The value is cut into runs decoded with one state each: a run ends at an escape sequence (which
/// designates a new set) and, when the state is not the initial one, before a delimiter (which brings
/// the initial state back). This is pydicom's split into fragments at each ESC, with its
/// delimiter handling, expressed as G0/G1 designations.
fn decode_iso2022(initial: State, bytes: &[u8], kind: TextKind) -> String {
    let mut out = String::with_capacity(bytes.len());
    if !bytes.contains(&ESC) {
        // Without escape sequences the state never leaves the initial one.
        initial.decode_into(bytes, &mut out);
        return out;
    }
    let mut state = initial;
    let mut start = 0; // where the run decoded with `state` begins
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == ESC {
            state.decode_into(&bytes[start..i], &mut out);
            match parse_escape(&bytes[i..]) {
                Some((length, designation)) => {
                    state = initial.after(designation);
                    i += length;
                }
                None => {
                    // Unknown or truncated: the ESC is undecodable, and the rest goes on in the initial
                    // sets (pydicom decodes such a fragment with the first encoding too). The bytes
                    // after ESC are decoded as ordinary text.
                    out.push(REPLACEMENT);
                    state = initial;
                    i += 1;
                }
            }
            start = i;
        } else if state != initial && state.is_reset_by(byte, kind) {
            state.decode_into(&bytes[start..i], &mut out);
            state = initial;
            start = i; // the delimiter itself is decoded in the initial state
            i += 1;
        } else {
            i += 1;
        }
    }
    state.decode_into(&bytes[start..], &mut out);
    out
}

impl State {
    /// The state after an escape sequence, in a value whose initial state is `self`.
    ///
    /// Like pydicom and dcmtk, which decode each fragment (from one ESC to the next) with a single
    /// 8-bit code, an escape sequence selects a whole code, not only the set it designates: a G1 set
    /// comes with ASCII in G0 and a G0 set with the initial G1 set. Strict ISO 2022 would keep the
    /// other half, but writers rely on this: pydicom writes `ESC ) I` (katakana) right after JIS X 0208
    /// text, without `ESC ( J`, and `ESC ( B` before Latin-1 text after Korean under
    /// `\ISO 2022 IR 149`.
    fn after(self, designation: Designation) -> State {
        match designation {
            Designation::G0(g0) => State { g0, g1: self.g1 },
            Designation::G1(g1) => State { g0: G0::Ascii, g1 },
        }
    }

    /// Whether `byte` brings the initial character sets back (PS3.5 6.1.2.5.3): control characters
    /// always do; `^`, `=` and `\` only when G0 holds a single-byte set, because with a two-byte
    /// set in G0 those bytes are halves of characters (`$^` is ま in JIS X 0208).
    fn is_reset_by(self, byte: u8, kind: TextKind) -> bool {
        if byte < 0x20 {
            return true; // C0 controls: CR, LF, FF, TAB, ... (ESC is handled before)
        }
        if self.g0 != G0::Ascii {
            return false;
        }
        match kind {
            TextKind::PersonName => matches!(byte, b'^' | b'=' | b'\\'),
            TextKind::MultiValued => byte == b'\\',
            TextKind::Text => false,
        }
    }

    fn decode_into(self, bytes: &[u8], out: &mut String) {
        if self.g0 == G0::Ascii {
            // Every G1 decoder reads 0x00..=0x7F as ASCII.
            self.g1.decode_into(bytes, out);
            return;
        }
        // A two-byte set in G0 owns 0x21..=0x7E; controls, space, DEL and high bytes are not part of it
        // (ISO 2022), so they go to the single-byte side.
        let is_g0 = |b: &u8| (0x21..=0x7E).contains(b);
        let mut rest = bytes;
        while !rest.is_empty() {
            let in_g0 = is_g0(&rest[0]);
            let length = rest
                .iter()
                .position(|b| is_g0(b) != in_g0)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(length);
            if in_g0 {
                decode_jis(self.g0, run, out);
            } else {
                self.g1.decode_into(run, out);
            }
            rest = tail;
        }
    }
}

impl G1 {
    /// Decodes bytes where 0x00..=0x7F are ASCII and 0x80..=0xFF belong to this set.
    fn decode_into(self, bytes: &[u8], out: &mut String) {
        use encoding_rs::*;
        match self {
            // Latin-1 is the identity on code points; encoding_rs's "ISO-8859-1" is windows-1252.
            G1::Latin1 => out.extend(bytes.iter().map(|&b| char::from(b))),
            G1::Latin2 => push_decoded(ISO_8859_2, bytes, out),
            G1::Latin3 => push_decoded(ISO_8859_3, bytes, out),
            G1::Latin4 => push_decoded(ISO_8859_4, bytes, out),
            G1::Cyrillic => push_decoded(ISO_8859_5, bytes, out),
            G1::Arabic => push_decoded(ISO_8859_6, bytes, out),
            G1::Greek => push_decoded(ISO_8859_7, bytes, out),
            G1::Hebrew => push_decoded(ISO_8859_8, bytes, out),
            G1::Latin9 => push_decoded(ISO_8859_15, bytes, out),
            // encoding_rs has only the Windows code pages here (its "ISO-8859-9" and "TIS-620" labels
            // mean windows-1254 and windows-874); their 0xA0..=0xFF half is the ISO set.
            G1::Latin5 => push_decoded_with_c1(WINDOWS_1254, bytes, out),
            G1::Thai => push_decoded_with_c1(WINDOWS_874, bytes, out),
            G1::Katakana => push_decoded(SHIFT_JIS, bytes, out),
            G1::KsX1001 => push_decoded(EUC_KR, bytes, out),
            G1::Gb2312 => push_decoded(GBK, bytes, out),
        }
    }
}

fn push_decoded(encoding: &'static Encoding, bytes: &[u8], out: &mut String) {
    let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
    out.push_str(&text);
}

/// Decodes with a Windows code page, except that 0x80..=0x9F are the C1 controls of ISO 8859
/// (where the code page has printable characters such as €).
fn push_decoded_with_c1(encoding: &'static Encoding, bytes: &[u8], out: &mut String) {
    let is_c1 = |b: &u8| (0x80..=0x9F).contains(b);
    for run in bytes.split_inclusive(is_c1) {
        match run.split_last() {
            Some((last, text)) if is_c1(last) => {
                push_decoded(encoding, text, out);
                out.push(char::from(*last));
            }
            _ => push_decoded(encoding, run, out),
        }
    }
}

/// Decodes a run of bytes 0x21..=0x7E in a two-byte Japanese set.
///
/// encoding_rs has no JIS X 0212 in its ISO-2022-JP decoder, but its EUC-JP decoder reads both sets:
/// JIS X 0208 as the two bytes with their high bits set, JIS X 0212 the same after a 0x8F prefix.
fn decode_jis(set: G0, run: &[u8], out: &mut String) {
    let pairs = run.chunks_exact(2);
    let odd_byte = !pairs.remainder().is_empty();
    let mut euc = Vec::with_capacity(run.len() / 2 * 3);
    for pair in pairs {
        if set == G0::JisX0212 {
            euc.push(0x8F);
        }
        euc.extend(pair.iter().map(|b| b | 0x80));
    }
    let (text, _had_errors) = encoding_rs::EUC_JP.decode_without_bom_handling(&euc);
    out.extend(text.chars().map(|c| standard_jis_mapping(set, c)));
    if odd_byte {
        out.push(REPLACEMENT); // half a character before the run ended
    }
}

/// encoding_rs decodes JIS like Windows (code page 932) does, with full-width forms for a few
/// characters that the JIS standard mapping (Python's, so pydicom's) has as the plain ones; 〜 (wave
/// dash) is common in Japanese text, e.g. in ranges.
fn standard_jis_mapping(set: G0, c: char) -> char {
    match (set, c) {
        (G0::JisX0208, '\u{FF5E}') => '\u{301C}', // 〜 WAVE DASH (0x2141)
        (G0::JisX0208, '\u{2225}') => '\u{2016}', // ‖ DOUBLE VERTICAL LINE (0x2142)
        (G0::JisX0208, '\u{FF0D}') => '\u{2212}', // − MINUS SIGN (0x215D)
        (G0::JisX0208, '\u{FFE0}') => '\u{00A2}', // ¢ (0x2171)
        (G0::JisX0208, '\u{FFE1}') => '\u{00A3}', // £ (0x2172)
        (G0::JisX0208, '\u{FFE2}') => '\u{00AC}', // ¬ (0x224C)
        (G0::JisX0212, '\u{FF5E}') => '~',        // TILDE (0x2237)
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TextKind::{MultiValued, PersonName, Text};

    fn decode(terms: &[&str], bytes: &[u8], kind: TextKind) -> String {
        SpecificCharacterSet::from_terms(terms).decode(bytes, kind)
    }

    // PS3.5 H.3.1: Japanese with JIS X 0208 code extensions, ASCII as value 1.
    #[test]
    fn japanese_person_name_with_ascii() {
        let bytes =
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
        assert_eq!(
            decode(&["", "ISO 2022 IR 87"], bytes, PersonName),
            "Yamada^Tarou=山田^太郎=やまだ^たろう"
        );
    }

    // PS3.5 H.3.2: half-width katakana (ISO-IR 13) as value 1, back to it with ESC ( J.
    #[test]
    fn japanese_person_name_with_katakana() {
        let bytes = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J";
        assert_eq!(
            decode(&["ISO 2022 IR 13", "ISO 2022 IR 87"], bytes, PersonName),
            "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
        );
    }

    #[test]
    fn japanese_supplementary_kanji_and_standard_mappings() {
        // JIS X 0212 (ESC $ ( D), which encoding_rs only decodes inside EUC-JP.
        assert_eq!(
            decode(&["", "ISO 2022 IR 159"], b"\x1b$(D0!\x1b(B", Text),
            "丂"
        );
        // 0x2141 is 〜 WAVE DASH in JIS X 0208 (and in Python), not Windows' ～ FULLWIDTH TILDE.
        assert_eq!(
            decode(&["", "ISO 2022 IR 87"], b"1\x1b$B!A\x1b(B3", Text),
            "1〜3"
        );
        // 0x2171 ¢ and 0x224C ¬, full-width forms in Windows' table.
        assert_eq!(
            decode(&["", "ISO 2022 IR 87"], b"\x1b$B!q\"L\x1b(B", Text),
            "¢¬"
        );
    }

    // PS3.5 I.2: Korean, KS X 1001 designated to G1 before each run.
    #[test]
    fn korean_person_name() {
        let bytes = b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf";
        assert_eq!(
            decode(&["", "ISO 2022 IR 149"], bytes, PersonName),
            "Hong^Gildong=洪^吉洞=홍^길동"
        );
    }

    // PS3.5 I.2, long text: the escape is repeated after each line break.
    #[test]
    fn korean_text_over_lines() {
        let bytes = b"The 1st line includes \x1b$)C\xb1\xe6\xb5\xbf.\r\nThe 2nd line includes \x1b$)C\xb1\xe6\xb5\xbf, too.\r\nThe 3rd line.\r\n";
        assert_eq!(
            decode(&["", "ISO 2022 IR 149"], bytes, Text),
            "The 1st line includes 길동.\r\nThe 2nd line includes 길동, too.\r\nThe 3rd line.\r\n"
        );
    }

    // PS3.5 J.1 (UTF-8), J.2 (GB18030) and J.3 (GB 2312 with code extensions).
    #[test]
    fn chinese_examples() {
        let utf8 = b"Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=";
        assert_eq!(
            decode(&["ISO_IR 192"], utf8, PersonName),
            "Wang^XiaoDong=王^小東="
        );
        let gb18030 = b"Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=";
        assert_eq!(
            decode(&["GB18030"], gb18030, PersonName),
            "Wang^XiaoDong=王^小东="
        );
        assert_eq!(
            decode(&["GBK"], gb18030, PersonName),
            "Wang^XiaoDong=王^小东="
        );
        let gb2312 = b"Zhang^XiaoDong=\x1b$)A\xd5\xc5^\x1b$)A\xd0\xa1\xb6\xab=";
        assert_eq!(
            decode(&["", "ISO 2022 IR 58"], gb2312, PersonName),
            "Zhang^XiaoDong=张^小东="
        );
        let text = b"1.\x1b$)A\xb5\xda\xd2\xbb\xd0\xd0\xce\xc4\xd7\xd6\xa1\xa3\r\n2.\x1b$)A\xb5\xda\xb6\xfe\xd0\xd0\xce\xc4\xd7\xd6\xa1\xa3\r\n3.\x1b$)A\xb5\xda\xc8\xfd\xd0\xd0\xce\xc4\xd7\xd6\xa1\xa3\r\n";
        assert_eq!(
            decode(&["", "ISO 2022 IR 58"], text, Text),
            "1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n"
        );
    }

    #[test]
    fn delimiters_reset_to_the_initial_sets() {
        let terms = ["ISO 2022 IR 100", "ISO 2022 IR 126"];
        // After `^`, `=` or `\` in a name, 0xC4 is Latin-1 again; in text it stays Greek.
        assert_eq!(decode(&terms, b"\x1b-F\xc4^\xc4", PersonName), "Δ^Ä");
        assert_eq!(decode(&terms, b"\x1b-F\xc4=\xc4", PersonName), "Δ=Ä");
        assert_eq!(decode(&terms, b"\x1b-F\xc4\\\xc4", PersonName), "Δ\\Ä");
        assert_eq!(decode(&terms, b"\x1b-F\xc4\\\xc4", MultiValued), "Δ\\Ä");
        assert_eq!(decode(&terms, b"\x1b-F\xc4^\xc4", MultiValued), "Δ^Δ");
        assert_eq!(decode(&terms, b"\x1b-F\xc4^\xc4", Text), "Δ^Δ");
        // Control characters reset everywhere.
        assert_eq!(
            decode(&terms, b"\x1b-F\xc4\r\n\xc4\t\xc4", Text),
            "Δ\r\nÄ\tÄ"
        );
    }

    #[test]
    fn delimiter_bytes_inside_two_byte_characters_do_not_reset() {
        // `$^` is ま: the 0x5E is half of a JIS X 0208 character, not a component separator.
        assert_eq!(
            decode(&["", "ISO 2022 IR 87"], b"\x1b$B$^\x1b(B^a", PersonName),
            "ま^a"
        );
        // But a line feed cannot be part of one, so it ends JIS X 0208 (pydicom's Python codec
        // would go on decoding ;3 as 山).
        assert_eq!(
            decode(&["", "ISO 2022 IR 87"], b"\x1b$B;3\n;3", Text),
            "山\n;3"
        );
        // Half a character at the end of a run.
        assert_eq!(
            decode(&["", "ISO 2022 IR 87"], b"\x1b$B;3;\x1b(Ba", Text),
            "山\u{FFFD}a"
        );
    }

    #[test]
    fn each_escape_sequence_selects_a_whole_code() {
        // pydicom writes katakana right after kanji with ESC ) I alone: G0 is ASCII again, so `\`
        // separates values instead of being half a kanji.
        let terms = ["ISO 2022 IR 13", "ISO 2022 IR 87"];
        assert_eq!(
            decode(&terms, b"\x1b$B$@\x1b)I\xde\\\xb1", MultiValued),
            "だﾞ\\ｱ"
        );
        // ESC ( B brings ASCII back with the initial G1 set (here Cyrillic; pydicom says Latin-1).
        assert_eq!(
            decode(
                &["ISO 2022 IR 144", "ISO 2022 IR 87"],
                b"\x1b$B;3\x1b(B\xb0",
                Text
            ),
            "山А"
        );
        // Escape sequences are honoured even when (0008,0005) does not declare them.
        assert_eq!(decode(&["ISO_IR 100"], b"\xe9\x1b-F\xe1", Text), "éα");
    }

    #[test]
    fn single_byte_sets() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("", b"caf\xe9", "café"), // the default repertoire reads high bytes as Latin-1, like pydicom
            ("ISO_IR 100", b"Buc^J\xe9r\xf4me\x85", "Buc^Jérôme\u{85}"),
            ("ISO_IR 101", b"\xa3\xf3d\xbc", "Łódź"),
            ("ISO_IR 109", b"\xa1\xa5", "Ħ\u{FFFD}"),
            ("ISO_IR 110", b"\xa7\xa2", "§ĸ"),
            ("ISO_IR 144", b"\xbb\xee\xdace\xdc\xd1yp\xd3", "Люкceмбypг"),
            ("ISO_IR 127", b"\xe2\xc8\xc7\xe6\xea", "قباني"),
            (
                "ISO_IR 126",
                b"\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2",
                "Διονυσιος",
            ),
            ("ISO_IR 138", b"\xf9\xf8\xe5\xef", "שרון"),
            ("ISO_IR 148", b"\xd0\xdd\xfe\x80", "Ğİş\u{80}"),
            ("ISO_IR 166", b"\xa1\xd2\xa0\x85", "กา\u{A0}\u{85}"),
            ("ISO_IR 203", b"\xa4\xbc", "€Œ"),
            ("ISO_IR 13", b"\xd4\xcf\xc0\xde", "ﾔﾏﾀﾞ"),
        ];
        for (term, bytes, expected) in cases {
            assert_eq!(decode(&[term], bytes, Text), *expected, "{term}");
        }
    }

    #[test]
    fn shift_jis_under_iso_ir_13_is_read_too() {
        // Many Japanese writers put Shift_JIS under "ISO_IR 13"; 表 (0x95 0x5C) has a backslash as
        // its second byte, which must not split the value.
        assert_eq!(decode(&["ISO_IR 13"], b"\x95\x5c^\xb1", PersonName), "表^ｱ");
    }

    #[test]
    fn stand_alone_encodings_ignore_escape_sequences_and_further_values() {
        assert_eq!(decode(&["ISO_IR 192"], b"a\x1b$Bb", Text), "a\u{1b}$Bb");
        assert_eq!(
            decode(&["ISO_IR 192", "ISO 2022 IR 87"], b"\xe7\x8e\x8b\xff", Text),
            "王\u{FFFD}"
        );
        assert_eq!(decode(&["GB18030"], b"\x81\x30\x81\x30", Text), "\u{80}");
    }

    #[test]
    fn terms_unknown_and_misspelled() {
        let unknown = SpecificCharacterSet::from_terms(&["ISO_IR 999", "ISO 2022 IR 87", "FOO"]);
        assert_eq!(unknown.unknown_terms(), ["ISO_IR 999", "FOO"]);
        assert_eq!(unknown.decode(b"\xe9", Text), "é"); // Latin-1 fallback
        assert_eq!(unknown.decode(b"\x1b$B;3\x1b(B", Text), "山");

        for spelling in ["ISO IR 144", "ISO-IR 144", "iso_ir 144", " ISO_IR 144\0"] {
            let charset = SpecificCharacterSet::from_terms(&[spelling]);
            assert!(charset.unknown_terms().is_empty(), "{spelling}");
            assert_eq!(charset.decode(b"\xb0", Text), "А", "{spelling}");
        }
        assert_eq!(decode(&["ISO_2022_IR_126"], b"\xe1", Text), "α");
        // Encoding labels, as pydicom accepts Python codec names.
        assert_eq!(decode(&["UTF-8"], "é".as_bytes(), Text), "é");
        // ...but only ASCII-compatible ones.
        assert_eq!(
            SpecificCharacterSet::from_terms(&["utf-16"]).unknown_terms(),
            ["utf-16"]
        );
    }

    #[test]
    fn from_value_splits_the_raw_element() {
        let charset = SpecificCharacterSet::from_value(b"\\ISO 2022 IR 87 ");
        assert_eq!(charset.terms(), ["", "ISO 2022 IR 87"]);
        assert_eq!(
            SpecificCharacterSet::from_value(b"  "),
            SpecificCharacterSet::default()
        );
        assert_eq!(
            SpecificCharacterSet::from_terms::<&str>(&[]),
            SpecificCharacterSet::default()
        );
    }

    #[test]
    fn utf8_compatibility() {
        assert!(SpecificCharacterSet::from_terms(&["ISO_IR 192"]).is_utf8_compatible());
        assert!(!SpecificCharacterSet::default().is_utf8_compatible());
        assert!(!SpecificCharacterSet::from_terms(&["ISO_IR 100"]).is_utf8_compatible());
        assert!(!SpecificCharacterSet::from_terms(&["GB18030"]).is_utf8_compatible());
    }

    #[test]
    fn broken_escape_sequences() {
        let terms = ["", "ISO 2022 IR 87", "ISO 2022 IR 149"];
        assert_eq!(decode(&terms, b"\x1b", Text), "\u{FFFD}");
        assert_eq!(decode(&terms, b"a\x1b", PersonName), "a\u{FFFD}");
        assert_eq!(decode(&terms, b"\x1b$", Text), "\u{FFFD}$");
        assert_eq!(decode(&terms, b"\x1b$)", Text), "\u{FFFD}$)");
        assert_eq!(decode(&terms, b"\x1b$(", Text), "\u{FFFD}$(");
        assert_eq!(decode(&terms, b"\x1b$B", Text), "");
        assert_eq!(decode(&terms, b"\x1b$B;", Text), "\u{FFFD}");
        assert_eq!(decode(&terms, b"\x1b$)C\xb1", Text), "\u{FFFD}");
        // Unknown sequence: the ESC is replaced and the rest is read in the initial sets.
        assert_eq!(decode(&terms, b"\x1b$B;3\x1bZ;3", Text), "山\u{FFFD}Z;3");
        assert_eq!(decode(&terms, b"\x1b\x1b(Ba", Text), "\u{FFFD}a");
    }

    /// Every kind of value, every character set, arbitrary bytes: no panic, and no byte turns into more
    /// than one character.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let charsets: Vec<SpecificCharacterSet> = [
            "",
            "ISO_IR 100",
            "ISO_IR 101",
            "ISO_IR 109",
            "ISO_IR 110",
            "ISO_IR 144",
            "ISO_IR 127",
            "ISO_IR 126",
            "ISO_IR 138",
            "ISO_IR 148",
            "ISO_IR 166",
            "ISO_IR 203",
            "ISO_IR 13",
            "ISO 2022 IR 149",
            "ISO 2022 IR 58",
            "ISO 2022 IR 87",
            "ISO_IR 192",
            "GB18030",
            "GBK",
        ]
        .iter()
        .map(|first| {
            SpecificCharacterSet::from_terms(&[*first, "ISO 2022 IR 87", "ISO 2022 IR 159"])
        })
        .collect();
        let check = |bytes: &[u8]| {
            for charset in &charsets {
                for kind in [PersonName, MultiValued, Text] {
                    let decoded = charset.decode(bytes, kind);
                    assert!(
                        decoded.chars().count() <= bytes.len(),
                        "{charset:?} {bytes:02x?} -> {decoded:?}"
                    );
                }
            }
        };
        // All short strings over the bytes that matter to escape sequences and delimiters.
        let alphabet = b"\x1b$()-BDCAIJ^=\\\n!;\x7f\x80\x8f\xa1\xd4\xff";
        for &a in alphabet {
            check(&[a]);
            for &b in alphabet {
                check(&[a, b]);
                for &c in alphabet {
                    check(&[a, b, c]);
                }
            }
        }
        // Longer pseudo-random strings (xorshift, fixed seed), half of them from the same alphabet.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..3000 {
            let length = (next() % 48) as usize;
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    let r = next();
                    if round % 2 == 0 {
                        alphabet[(r % alphabet.len() as u64) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            check(&bytes);
        }
    }
}
