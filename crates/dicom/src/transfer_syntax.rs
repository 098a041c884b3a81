//! Transfer syntaxes: how a data set is encoded and how its pixel data is compressed, in one
//! table ([`ALL`]) that the storage SCP, the retrieving SCU, transcoding and DICOMweb all read:
//! which syntaxes the store accepts as received, which ones the pixel codecs decode, and which
//! ones are proposed when retrieving.

pub const IMPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";
pub const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1.99";
pub const EXPLICIT_VR_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";

/// How the data set's elements are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub explicit_vr: bool,
    pub big_endian: bool,
    pub deflated: bool,
}

impl Encoding {
    pub const IMPLICIT_LE: Encoding = Encoding {
        explicit_vr: false,
        big_endian: false,
        deflated: false,
    };
    pub const EXPLICIT_LE: Encoding = Encoding {
        explicit_vr: true,
        big_endian: false,
        deflated: false,
    };
    pub const EXPLICIT_BE: Encoding = Encoding {
        explicit_vr: true,
        big_endian: true,
        deflated: false,
    };

    /// The encoding a transfer syntax UID implies. Every syntax other than the four native ones
    /// encapsulates compressed pixel data in an explicit VR little endian data set.
    pub fn of(transfer_syntax: &str) -> Encoding {
        match transfer_syntax {
            IMPLICIT_VR_LITTLE_ENDIAN => Encoding::IMPLICIT_LE,
            EXPLICIT_VR_BIG_ENDIAN => Encoding::EXPLICIT_BE,
            DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN | "1.2.840.10008.1.2.8.1" => Encoding {
                deflated: true,
                ..Encoding::EXPLICIT_LE
            },
            _ => Encoding::EXPLICIT_LE,
        }
    }
}

/// How pixel data is stored, as far as the codecs care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelEncoding {
    Native,
    Rle,
    JpegDct,
    JpegLossless,
    JpegLs,
    Jpeg2000,
    /// Stored and sent as received, never decoded here (MPEG, H.264, HEVC, JPEG XL, ...).
    Unsupported,
}

/// One transfer syntax Lightbox knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferSyntax {
    pub uid: &'static str,
    /// A short human name for listings and error messages.
    pub name: &'static str,
    pub pixels: PixelEncoding,
    /// The storage SCP accepts it: the store keeps every instance as received.
    pub accepted: bool,
}

impl TransferSyntax {
    /// The pixel codecs decode it (native pixel data needs no codec).
    pub fn is_decodable(&self) -> bool {
        self.pixels != PixelEncoding::Unsupported
    }

    /// Proposed for retrieved instances (C-GET): the peer may send each instance as it stores
    /// it when we can keep it and decode it; otherwise it has to convert.
    pub fn is_proposed_for_retrieval(&self) -> bool {
        self.accepted && self.is_decodable()
    }
}

const fn syntax(
    uid: &'static str,
    name: &'static str,
    pixels: PixelEncoding,
    accepted: bool,
) -> TransferSyntax {
    TransferSyntax {
        uid,
        name,
        pixels,
        accepted,
    }
}

use PixelEncoding as P;

/// Every transfer syntax Lightbox knows, the native ones first (in the order proposed).
pub const ALL: &[TransferSyntax] = &[
    syntax(
        EXPLICIT_VR_LITTLE_ENDIAN,
        "Explicit VR Little Endian",
        P::Native,
        true,
    ),
    syntax(
        IMPLICIT_VR_LITTLE_ENDIAN,
        "Implicit VR Little Endian",
        P::Native,
        true,
    ),
    syntax(
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        "Deflated Explicit VR Little Endian",
        P::Native,
        true,
    ),
    syntax(
        EXPLICIT_VR_BIG_ENDIAN,
        "Explicit VR Big Endian",
        P::Native,
        true,
    ),
    syntax("1.2.840.10008.1.2.4.50", "JPEG Baseline", P::JpegDct, true),
    syntax(
        "1.2.840.10008.1.2.4.51",
        "JPEG Extended (12-bit)",
        P::JpegDct,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.57",
        "JPEG Lossless",
        P::JpegLossless,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless SV1",
        P::JpegLossless,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.80",
        "JPEG-LS Lossless",
        P::JpegLs,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.81",
        "JPEG-LS Near-Lossless",
        P::JpegLs,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.90",
        "JPEG 2000 Lossless",
        P::Jpeg2000,
        true,
    ),
    syntax("1.2.840.10008.1.2.4.91", "JPEG 2000", P::Jpeg2000, true),
    syntax(
        "1.2.840.10008.1.2.4.201",
        "HTJ2K Lossless",
        P::Jpeg2000,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.202",
        "HTJ2K Lossless RPCL",
        P::Jpeg2000,
        true,
    ),
    syntax("1.2.840.10008.1.2.4.203", "HTJ2K", P::Jpeg2000, true),
    syntax("1.2.840.10008.1.2.5", "RLE Lossless", P::Rle, true),
    syntax("1.2.840.10008.1.2.4.100", "MPEG2", P::Unsupported, true),
    syntax("1.2.840.10008.1.2.4.101", "MPEG2", P::Unsupported, true),
    syntax(
        "1.2.840.10008.1.2.4.102",
        "MPEG-4 AVC/H.264",
        P::Unsupported,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.103",
        "MPEG-4 AVC/H.264",
        P::Unsupported,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.104",
        "MPEG-4 AVC/H.264",
        P::Unsupported,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.105",
        "MPEG-4 AVC/H.264",
        P::Unsupported,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.106",
        "MPEG-4 AVC/H.264",
        P::Unsupported,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.107",
        "HEVC/H.265",
        P::Unsupported,
        true,
    ),
    syntax(
        "1.2.840.10008.1.2.4.108",
        "HEVC/H.265",
        P::Unsupported,
        true,
    ),
    syntax("1.2.840.10008.1.2.4.110", "JPEG XL", P::Unsupported, false),
    syntax("1.2.840.10008.1.2.4.111", "JPEG XL", P::Unsupported, false),
    syntax("1.2.840.10008.1.2.4.112", "JPEG XL", P::Unsupported, false),
];

/// The table entry of a UID.
pub fn lookup(transfer_syntax: &str) -> Option<&'static TransferSyntax> {
    ALL.iter().find(|ts| ts.uid == transfer_syntax)
}

/// The syntaxes the storage SCP accepts.
pub fn accepted() -> impl Iterator<Item = &'static str> {
    ALL.iter().filter(|ts| ts.accepted).map(|ts| ts.uid)
}

/// The syntaxes proposed for retrieved instances.
pub fn proposed_for_retrieval() -> impl Iterator<Item = &'static str> {
    ALL.iter()
        .filter(|ts| ts.is_proposed_for_retrieval())
        .map(|ts| ts.uid)
}

pub fn pixel_encoding(transfer_syntax: &str) -> PixelEncoding {
    lookup(transfer_syntax).map_or(PixelEncoding::Unsupported, |ts| ts.pixels)
}

/// A short human name for listings and error messages.
pub fn name(transfer_syntax: &str) -> &'static str {
    lookup(transfer_syntax).map_or("other", |ts| ts.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uid_is_listed_once() {
        for (i, ts) in ALL.iter().enumerate() {
            assert!(
                ALL[i + 1..].iter().all(|other| other.uid != ts.uid),
                "{} listed twice",
                ts.uid
            );
        }
    }

    #[test]
    fn retrieval_proposes_what_is_kept_and_decoded() {
        let proposed: Vec<&str> = proposed_for_retrieval().collect();
        assert_eq!(proposed[0], EXPLICIT_VR_LITTLE_ENDIAN);
        assert!(proposed.contains(&"1.2.840.10008.1.2.4.201"), "HTJ2K");
        assert!(
            !proposed.contains(&"1.2.840.10008.1.2.4.102"),
            "H.264 is never decoded"
        );
        assert!(accepted().any(|uid| uid == "1.2.840.10008.1.2.4.102"));
        assert_eq!(pixel_encoding("1.2.3"), PixelEncoding::Unsupported);
        assert_eq!(name("1.2.840.10008.1.2.5"), "RLE Lossless");
    }
}
