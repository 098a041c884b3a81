//! A `multipart/related` body (STOW-RS upload, WADO-RS download) of any bytes, fed to the
//! splitter in pieces whose sizes come from the input too: it either finds parts or says the
//! body is malformed, and never holds more than its bounded header buffer in memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lightbox_net::dicomweb::multipart::Splitter;

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let scratch = std::env::temp_dir();
    let mut splitter = Splitter::new("fuzzboundary", scratch);
    for piece in body.chunks(usize::from(step).max(1)) {
        if splitter.feed(piece).is_err() {
            return;
        }
        drop(splitter.take_finished());
    }
    let _ = splitter.is_complete();
});
