//! Draws a "7" with the synthetic finger strokes, recognises it and writes the screen to
//! `docs/screen.png` (the picture in README).
//!
//! `cargo run --manifest-path firmware/Cargo.toml --release --example screenshot`

use app::canvas::Canvas;
use app::preprocess::to_mnist;
use app::recognizer::Recognizer;
use app::ui::{Framebuffer, SCREEN, Screen, draw};
use embedded_graphics::pixelcolor::RgbColor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut canvas = Canvas::new();
    app::synthetic::draw_digit(&mut canvas, 7);
    let digit = to_mnist(canvas.pixels(), app::canvas::SIDE).ok_or("blank canvas")?;
    let mut recognizer = Recognizer::new().map_err(|e| format!("{e:?}"))?;
    let start = std::time::Instant::now();
    let prediction = recognizer.classify(&digit).map_err(|e| format!("{e:?}"))?;
    let inference_us = start.elapsed().as_micros() as u32;
    let mut screen = Box::new(Framebuffer::new());
    let view = Screen {
        canvas: &canvas,
        digit: Some(&digit),
        prediction: Some(prediction),
        inference_us: Some(inference_us),
    };
    let _ = draw(&view, screen.as_mut());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/screen.png");
    std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"))?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(std::fs::File::create(path)?),
        SCREEN.width,
        SCREEN.height,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let expand = |v: u8, bits: u32| ((u32::from(v) * 255) / ((1 << bits) - 1)) as u8;
    let bytes: Vec<u8> = screen
        .pixels()
        .iter()
        .flat_map(|c| [expand(c.r(), 5), expand(c.g(), 6), expand(c.b(), 5)])
        .collect();
    encoder.write_header()?.write_image_data(&bytes)?;
    println!(
        "recognised {} ({:?}) in {inference_us} us; wrote {path}",
        prediction.digit,
        prediction.top3()
    );
    Ok(())
}
