pub mod jpeg_dct;
