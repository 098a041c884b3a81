//! Transfer syntaxes: how a data set is encoded and how its pixel data is compressed.

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

/// How pixel data is stored, as far as the renderer cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelEncoding {
    Native,
    Rle,
    JpegDct,
    JpegLossless,
    JpegLs,
    Jpeg2000,
    Unsupported,
}

pub fn pixel_encoding(transfer_syntax: &str) -> PixelEncoding {
    match transfer_syntax {
        IMPLICIT_VR_LITTLE_ENDIAN
        | EXPLICIT_VR_LITTLE_ENDIAN
        | EXPLICIT_VR_BIG_ENDIAN
        | DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN => PixelEncoding::Native,
        "1.2.840.10008.1.2.5" => PixelEncoding::Rle,
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" => PixelEncoding::JpegDct,
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => PixelEncoding::JpegLossless,
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => PixelEncoding::JpegLs,
        "1.2.840.10008.1.2.4.90"
        | "1.2.840.10008.1.2.4.91"
        | "1.2.840.10008.1.2.4.201"
        | "1.2.840.10008.1.2.4.202"
        | "1.2.840.10008.1.2.4.203" => PixelEncoding::Jpeg2000,
        _ => PixelEncoding::Unsupported,
    }
}

/// A short human name for listings and error messages.
pub fn name(transfer_syntax: &str) -> &'static str {
    match transfer_syntax {
        IMPLICIT_VR_LITTLE_ENDIAN => "Implicit VR Little Endian",
        EXPLICIT_VR_LITTLE_ENDIAN => "Explicit VR Little Endian",
        EXPLICIT_VR_BIG_ENDIAN => "Explicit VR Big Endian",
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended (12-bit)",
        "1.2.840.10008.1.2.4.57" => "JPEG Lossless",
        "1.2.840.10008.1.2.4.70" => "JPEG Lossless SV1",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.201" => "HTJ2K Lossless",
        "1.2.840.10008.1.2.4.202" => "HTJ2K Lossless RPCL",
        "1.2.840.10008.1.2.4.203" => "HTJ2K",
        "1.2.840.10008.1.2.4.100" | "1.2.840.10008.1.2.4.101" => "MPEG2",
        "1.2.840.10008.1.2.4.102"
        | "1.2.840.10008.1.2.4.103"
        | "1.2.840.10008.1.2.4.104"
        | "1.2.840.10008.1.2.4.105"
        | "1.2.840.10008.1.2.4.106" => "MPEG-4 AVC/H.264",
        "1.2.840.10008.1.2.4.107" | "1.2.840.10008.1.2.4.108" => "HEVC/H.265",
        "1.2.840.10008.1.2.4.110" | "1.2.840.10008.1.2.4.111" | "1.2.840.10008.1.2.4.112" => {
            "JPEG XL"
        }
        _ => "other",
    }
}
