//! What a person looks at after training: per-stage PNG plots (training curves, learning-rate
//! schedule, the codelab's prediction grid) and `models/report.html` with all stages side by side.

use std::fmt::Write as _;
use std::path::Path;

use burn::tensor::Device;
use embedded_graphics::mono_font::ascii::{FONT_9X15_BOLD, FONT_10X20};
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::artifacts::{ArtifactError, StageDir, StageMetrics};
use crate::augment::Augmentation;
use crate::data::{CLASSES, IMAGE_PIXELS, IMAGE_SIDE, Mnist, PIXEL_SCALE};
use crate::model::Model;
use crate::plot::{Canvas, LineChart, Series};
use crate::train::evaluate;

const CELL_SCALE: i32 = 2;
const CELL_W: i32 = 64;
const CELL_H: i32 = IMAGE_SIDE as i32 * CELL_SCALE + 22;
const GRID_COLUMNS: usize = 10;
const GRID_TEST_ROWS: usize = 8;
const WRONG: Rgb888 = Rgb888::new(220, 20, 20);
const RIGHT: Rgb888 = Rgb888::new(30, 30, 30);

fn write_png(canvas: &Canvas, path: &Path) -> Result<(), ArtifactError> {
    canvas.save_png(path).map_err(|e| ArtifactError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn series(
    name: &str,
    metrics: &StageMetrics,
    value: impl Fn(&crate::train::EpochMetrics) -> f64,
) -> Series {
    Series {
        name: name.into(),
        points: metrics
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, value(e)))
            .collect(),
    }
}

/// One measure per epoch, on the training and the validation data.
fn train_vs_validation(
    metrics: &StageMetrics,
    measure: &str,
    train: impl Fn(&crate::train::EpochMetrics) -> f64,
    validation: impl Fn(&crate::train::EpochMetrics) -> f64,
) -> LineChart {
    LineChart {
        title: format!("{}: {measure}", metrics.stage),
        x_label: "epoch".into(),
        series: vec![
            series("train", metrics, train),
            series("validation", metrics, validation),
        ],
        y_range: None,
        log_y: false,
    }
}

/// Loss and accuracy, train vs validation, side by side in `curves.png`.
pub fn training_curves(metrics: &StageMetrics) -> Canvas {
    let (w, h) = (1000, 380);
    let mut canvas = Canvas::new(w, h, Rgb888::WHITE);
    let loss = train_vs_validation(metrics, "loss", |e| e.train_loss, |e| e.validation_loss);
    let accuracy = train_vs_validation(
        metrics,
        "accuracy",
        |e| e.train_accuracy,
        |e| e.validation_accuracy,
    );
    loss.draw(&mut canvas, Point::zero(), Size::new(w / 2, h));
    accuracy.draw(
        &mut canvas,
        Point::new(w as i32 / 2, 0),
        Size::new(w / 2, h),
    );
    canvas
}

/// The per-epoch learning rate on a log scale (`lr.png`).
pub fn lr_schedule(metrics: &StageMetrics) -> Canvas {
    let (w, h) = (500, 320);
    let mut canvas = Canvas::new(w, h, Rgb888::WHITE);
    LineChart {
        title: format!("{}: learning rate", metrics.stage),
        x_label: "epoch".into(),
        series: vec![series("lr", metrics, |e| e.lr)],
        y_range: None,
        log_y: true,
    }
    .draw(&mut canvas, Point::zero(), Size::new(w, h));
    canvas
}

/// The digits 0..9 drawn with a bitmap font, white on black and centred like MNIST digits:
/// the codelab's first row, showing how the model does on clean, unseen glyphs.
pub fn font_digits() -> Mnist {
    let mut pixels = Vec::with_capacity(10 * IMAGE_PIXELS);
    for digit in 0..10u8 {
        let mut glyph = Canvas::new(IMAGE_SIDE as u32, IMAGE_SIDE as u32, Rgb888::BLACK);
        let text = char::from(b'0' + digit).to_string();
        // FONT_10X20 glyphs are ~20 px tall, MNIST digits fill a 20x20 box in the 28x28 frame.
        glyph.text(&text, Point::new(14, 4), &FONT_10X20, Rgb888::WHITE, true);
        // Thicken the 1-2 px strokes towards MNIST's pen width.
        let bold: Vec<u8> = (0..IMAGE_SIDE as u32)
            .flat_map(|y| (0..IMAGE_SIDE as u32).map(move |x| (x, y)))
            .map(|(x, y)| {
                let on = |dx: u32| {
                    glyph
                        .pixel(x.wrapping_sub(dx), y)
                        .is_some_and(|c| c.r() > 0)
                };
                if on(0) || on(1) { 255 } else { 0 }
            })
            .collect();
        pixels.extend(bold);
    }
    Mnist {
        pixels,
        labels: (0..10).collect(),
    }
}

fn draw_digit(canvas: &mut Canvas, image: &[u8], origin: Point) {
    canvas.grey_image(image, IMAGE_SIDE, origin, CELL_SCALE as u32);
}

fn draw_cell(canvas: &mut Canvas, image: &[u8], predicted: u8, label: u8, column: usize, top: i32) {
    let x = column as i32 * CELL_W + (CELL_W - IMAGE_SIDE as i32 * CELL_SCALE) / 2;
    draw_digit(canvas, image, Point::new(x, top));
    let color = if predicted == label { RIGHT } else { WRONG };
    let text = if predicted == label {
        format!("{predicted}")
    } else {
        format!("{predicted} ({label})")
    };
    let centre = Point::new(
        column as i32 * CELL_W + CELL_W / 2,
        top + IMAGE_SIDE as i32 * CELL_SCALE + 3,
    );
    canvas.text(&text, centre, &FONT_9X15_BOLD, color, true);
}

/// The codelab's prediction grid: font digits first, then test digits with the predicted label
/// under each; wrong predictions in red with the true label in brackets, errors first.
pub fn prediction_grid(
    model: &Model,
    test: &Mnist,
    test_predictions: &[u8],
    device: &Device,
) -> Canvas {
    let header = 20;
    let width = GRID_COLUMNS as u32 * CELL_W as u32;
    let height = (header * 2 + CELL_H * (1 + GRID_TEST_ROWS as i32)) as u32;
    let mut canvas = Canvas::new(width, height, Rgb888::WHITE);
    // Font digits are digits: only a ten-class (MNIST-like) model can be scored on them.
    if model.classes() == CLASSES {
        let fonts = font_digits();
        let font_eval = evaluate(model, &fonts, device);
        canvas.text(
            "font digits",
            Point::new(4, 2),
            &FONT_9X15_BOLD,
            RIGHT,
            false,
        );
        for i in 0..fonts.len() {
            draw_cell(
                &mut canvas,
                fonts.image(i),
                font_eval.predictions[i],
                fonts.labels[i],
                i,
                header,
            );
        }
    }
    let top = header * 2 + CELL_H;
    let errors = (0..test.len())
        .filter(|&i| test_predictions[i] != test.labels[i])
        .count();
    canvas.text(
        &format!(
            "test digits, errors first ({errors} of {} wrong)",
            test.len()
        ),
        Point::new(4, top - header + 2),
        &FONT_9X15_BOLD,
        RIGHT,
        false,
    );
    let mut order: Vec<usize> = (0..test.len()).collect();
    order.sort_by_key(|&i| test_predictions[i] == test.labels[i]);
    for (slot, &i) in order.iter().take(GRID_COLUMNS * GRID_TEST_ROWS).enumerate() {
        let row_top = top + (slot / GRID_COLUMNS) as i32 * CELL_H;
        draw_cell(
            &mut canvas,
            test.image(i),
            test_predictions[i],
            test.labels[i],
            slot % GRID_COLUMNS,
            row_top,
        );
    }
    canvas
}

/// Training digits as an augmented stage sees them: each row one digit of the training set,
/// first as it is, then as [`AUGMENTED_SAMPLES`] - 1 draws of `augment` (seeded by `seed`).
pub fn augmentation_grid(train: &Mnist, augment: &Augmentation, seed: u64) -> Canvas {
    const ROWS: usize = 10;
    let header = 20;
    let width = AUGMENTED_SAMPLES as u32 * CELL_W as u32;
    let row_height = IMAGE_SIDE as i32 * CELL_SCALE + 8;
    let height = (header + row_height * ROWS as i32) as u32;
    let mut canvas = Canvas::new(width, height, Rgb888::WHITE);
    canvas.text(
        "first column: the training digit; then random distortions of it",
        Point::new(4, 2),
        &FONT_9X15_BOLD,
        RIGHT,
        false,
    );
    let mut rng = StdRng::seed_from_u64(seed);
    // The first training digit of each class, so every digit shows.
    let firsts = (0..ROWS as u8).filter_map(|d| train.labels.iter().position(|&l| l == d));
    for (row, i) in firsts.enumerate() {
        let top = header + row as i32 * row_height;
        for column in 0..AUGMENTED_SAMPLES {
            let image: Vec<u8> = if column == 0 {
                train.image(i).to_vec()
            } else {
                augment
                    .batch(std::iter::once(train.image(i)), &mut rng)
                    .iter()
                    .map(|v| (v / PIXEL_SCALE).round().clamp(0.0, 255.0) as u8)
                    .collect()
            };
            let x = column as i32 * CELL_W + (CELL_W - IMAGE_SIDE as i32 * CELL_SCALE) / 2;
            draw_digit(&mut canvas, &image, Point::new(x, top));
        }
    }
    canvas
}

/// Columns of [`augmentation_grid`]: the original and its distortions.
pub const AUGMENTED_SAMPLES: usize = 10;

/// Writes [`augmentation_grid`] as `augmented.png` into the stage folder.
pub fn write_augmentation_grid(
    dir: &StageDir,
    train: &Mnist,
    augment: &Augmentation,
    seed: u64,
) -> Result<(), ArtifactError> {
    write_png(
        &augmentation_grid(train, augment, seed),
        &dir.plot("augmented"),
    )
}

/// Writes `curves.png`, `lr.png` and `predictions.png` into the stage folder.
pub fn write_stage_plots(
    dir: &StageDir,
    metrics: &StageMetrics,
    model: &Model,
    test: &Mnist,
    test_predictions: &[u8],
    device: &Device,
) -> Result<(), ArtifactError> {
    write_png(&training_curves(metrics), &dir.plot("curves"))?;
    write_png(&lr_schedule(metrics), &dir.plot("lr"))?;
    write_png(
        &prediction_grid(model, test, test_predictions, device),
        &dir.plot("predictions"),
    )
}

/// The results table's columns: heading and whether the cells are numbers (right-aligned).
const RESULT_COLUMNS: [(&str, bool); 8] = [
    ("stage", false),
    ("test accuracy", true),
    ("params", true),
    ("epochs", true),
    ("first epoch s", true),
    ("steady s/epoch", true),
    ("backend", false),
    ("device", false),
];

/// One row of the results table per stage: the one source of the markdown table (the form
/// README quotes) and of `report.html`'s.
pub fn result_rows(stages: &[StageMetrics]) -> Vec<[String; RESULT_COLUMNS.len()]> {
    stages
        .iter()
        .map(|m| {
            let seconds = m.epoch_seconds();
            [
                m.stage.clone(),
                format!("{:.2}%", 100.0 * m.test_accuracy),
                m.params.to_string(),
                m.epochs.len().to_string(),
                format!("{:.1}", seconds.first),
                format!("{:.1}", seconds.steady),
                m.backend.clone(),
                m.device.clone(),
            ]
        })
        .collect()
}

/// The results table as markdown.
pub fn markdown_results(stages: &[StageMetrics]) -> String {
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::from("|");
        for cell in cells {
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
        out
    };
    let mut md = line(&mut RESULT_COLUMNS.iter().map(|&(heading, _)| heading));
    md += &line(
        &mut RESULT_COLUMNS
            .iter()
            .map(|&(_, number)| if number { "---:" } else { "---" }),
    );
    for row in result_rows(stages) {
        md += &line(&mut row.iter().map(String::as_str));
    }
    md
}

/// `report.html`: the results table and every stage's curves, side by side.
pub fn html_report(stages: &[StageMetrics]) -> String {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mnist-edge training report</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:4px 8px}th{background:#eee}.n{text-align:right}\
         .grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0}img{max-width:100%}</style>\
         </head><body><h1>mnist-edge: the codelab progression</h1><table><tr>",
    );
    for (heading, _) in RESULT_COLUMNS {
        let _ = write!(html, "<th>{heading}</th>");
    }
    html.push_str("</tr>");
    for row in result_rows(stages) {
        html.push_str("<tr>");
        for (cell, (_, number)) in row.iter().zip(RESULT_COLUMNS) {
            let class = if number { " class=\"n\"" } else { "" };
            let _ = write!(html, "<td{class}>{cell}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</table><h2>Training curves</h2><div class=\"grid\">");
    for m in stages {
        let _ = write!(
            html,
            "<figure><img src=\"{0}/curves.png\" alt=\"{0} curves\"><figcaption>{0}: \
             <a href=\"{0}/predictions.png\">predictions</a>, <a href=\"{0}/lr.png\">learning rate</a></figcaption></figure>",
            m.stage
        );
    }
    html.push_str("</div></body></html>\n");
    html
}
