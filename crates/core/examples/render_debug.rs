//! Renders a file's middle frame to PNG: `cargo run --example render_debug IN.dcm OUT.png`.
fn main() {
    let mut args = std::env::args().skip(1);
    let (input, output) = (args.next().expect("input"), args.next().expect("output"));
    let image = lightbox_core::render::render_file(
        std::path::Path::new(&input),
        lightbox_core::render::FrameChoice::Middle,
    )
    .unwrap_or_else(|e| panic!("{input}: {e}"));
    let fitted = lightbox_core::render::thumbnail::fit(&image, 512);
    std::fs::write(
        &output,
        lightbox_core::render::thumbnail::encode_png(&fitted),
    )
    .expect("write");
}
