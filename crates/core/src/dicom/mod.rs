pub mod charset;
