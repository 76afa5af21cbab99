//! A small raster plotting kit on embedded-graphics: an RGB canvas saved as PNG, line charts and
//! text. The fonts are embedded-graphics' built-in bitmap fonts, so plots render identically on a
//! machine with no fonts installed.

use std::path::Path;

use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_9X15_BOLD};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};

/// Series colours, in order (colour-blind-safe Okabe-Ito hues).
pub const PALETTE: [Rgb888; 6] = [
    Rgb888::new(0, 114, 178),
    Rgb888::new(213, 94, 0),
    Rgb888::new(0, 158, 115),
    Rgb888::new(204, 121, 167),
    Rgb888::new(230, 159, 0),
    Rgb888::new(86, 180, 233),
];
const GRID: Rgb888 = Rgb888::new(225, 225, 225);
const AXIS: Rgb888 = Rgb888::new(60, 60, 60);

/// An in-memory RGB image that embedded-graphics can draw on.
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<Rgb888>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb888) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![background; (width * height) as usize],
        }
    }

    /// The colour at (x, y), if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb888> {
        (x < self.width && y < self.height).then(|| self.pixels[(y * self.width + x) as usize])
    }

    /// Sets one pixel; points outside the canvas are ignored.
    pub fn set(&mut self, x: i32, y: i32, color: Rgb888) {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            self.pixels[(y as u32 * self.width + x as u32) as usize] = color;
        }
    }

    /// Writes the canvas as an 8-bit RGB PNG.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let bytes: Vec<u8> = self
            .pixels
            .iter()
            .flat_map(|c| [c.r(), c.g(), c.b()])
            .collect();
        encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(&bytes))
            .map_err(std::io::Error::other)
    }

    /// Draws `text` with its top-left (or top-centre when `centred`) at `at`.
    pub fn text(
        &mut self,
        text: &str,
        at: Point,
        font: &MonoFont<'_>,
        color: Rgb888,
        centred: bool,
    ) {
        let style = MonoTextStyle::new(font, color);
        let alignment = if centred {
            Alignment::Center
        } else {
            Alignment::Left
        };
        let layout = TextStyleBuilder::new()
            .baseline(Baseline::Top)
            .alignment(alignment)
            .build();
        let _ = Text::with_text_style(text, at, style, layout).draw(self);
    }

    /// Draws a one-pixel line.
    pub fn line(&mut self, from: Point, to: Point, color: Rgb888, width: u32) {
        let _ = Line::new(from, to)
            .into_styled(PrimitiveStyle::with_stroke(color, width))
            .draw(self);
    }

    /// Fills a rectangle.
    pub fn fill(&mut self, top_left: Point, size: Size, color: Rgb888) {
        let _ = Rectangle::new(top_left, size)
            .into_styled(PrimitiveStyle::with_fill(color))
            .draw(self);
    }

    /// Draws a square grey-level image (MNIST's white ink on black) as dark ink on white, as
    /// the codelab shows digits, each pixel a `scale` x `scale` square, top-left at `origin`.
    pub fn grey_image(&mut self, pixels: &[u8], side: usize, origin: Point, scale: u32) {
        for (i, &p) in pixels.iter().enumerate() {
            let (x, y) = ((i % side) as i32, (i / side) as i32);
            let v = 255 - p;
            self.fill(
                origin + Point::new(x * scale as i32, y * scale as i32),
                Size::new(scale, scale),
                Rgb888::new(v, v, v),
            );
        }
    }
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            self.set(p.x, p.y, c);
        }
        Ok(())
    }
}

/// One named line of a chart.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with a title, axes, grid, tick labels and a legend.
pub struct LineChart {
    /// Title above the plot area.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// The series; colours follow [`PALETTE`].
    pub series: Vec<Series>,
    /// Fixed y range, or `None` to fit the data.
    pub y_range: Option<(f64, f64)>,
    /// Draw the y axis on a log10 scale (for learning rates).
    pub log_y: bool,
}

fn format_tick(v: f64, log: bool) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(0.01..10_000.0).contains(&a) {
        format!("{v:.1e}")
    } else if a < 1.0 {
        format!("{v:.3}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Five even steps from `v0` to `v1` with their pixel positions between `p0` and `p1`
/// (`flip`: the pixel axis grows the other way, as y does on screen).
fn even_ticks(v0: f64, v1: f64, p0: i32, p1: i32, flip: bool) -> Vec<(f64, i32)> {
    const STEPS: i32 = 5;
    (0..=STEPS)
        .map(|i| {
            let f = f64::from(i) / f64::from(STEPS);
            let along = if flip { 1.0 - f } else { f };
            (
                v0 + f * (v1 - v0),
                p0 + (along * f64::from(p1 - p0)).round() as i32,
            )
        })
        .collect()
}

impl LineChart {
    fn data_range(&self, axis: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
        let values = self.series.iter().flat_map(|s| s.points.iter().map(&axis));
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        match (lo.is_finite(), hi > lo) {
            (true, true) => (lo, hi),
            (true, false) => (lo - 0.5, lo + 0.5),
            _ => (0.0, 1.0),
        }
    }

    /// One tick per integer when x counts epochs, else five even steps.
    fn x_ticks(&self, x0: f64, x1: f64) -> Vec<f64> {
        let integers = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .all(|p| p.0.fract() == 0.0);
        if integers && x1 - x0 <= 20.0 {
            (x0 as i64..=x1 as i64).map(|x| x as f64).collect()
        } else {
            even_ticks(x0, x1, 0, 0, false)
                .into_iter()
                .map(|(v, _)| v)
                .collect()
        }
    }

    fn y_value(&self, y: f64) -> f64 {
        if self.log_y { y.max(1e-12).log10() } else { y }
    }

    /// Draws the chart into the rectangle at `origin` of `size` on `canvas`.
    pub fn draw(&self, canvas: &mut Canvas, origin: Point, size: Size) {
        let (left, right, top, bottom) = (58, 12, 26, 44);
        let plot = Rectangle::new(
            origin + Point::new(left, top),
            Size::new(
                size.width - (left + right) as u32,
                size.height - (top + bottom) as u32,
            ),
        );
        canvas.text(
            &self.title,
            origin + Point::new(size.width as i32 / 2, 6),
            &FONT_9X15_BOLD,
            AXIS,
            true,
        );
        let (x0, x1) = self.data_range(|p| p.0);
        let (y0, y1) = match self.y_range {
            Some((a, b)) => (self.y_value(a), self.y_value(b)),
            None => {
                let (a, b) = self.data_range(|p| self.y_value(p.1));
                let pad = (b - a) * 0.05;
                // Losses and accuracies never go below 0: don't pad into negative ticks.
                let low = if a >= 0.0 && !self.log_y {
                    (a - pad).max(0.0)
                } else {
                    a - pad
                };
                (low, b + pad)
            }
        };
        let to_px = |x: f64, y: f64| {
            let fx = (x - x0) / (x1 - x0);
            let fy = (self.y_value(y) - y0) / (y1 - y0);
            Point::new(
                plot.top_left.x + (fx * (plot.size.width - 1) as f64).round() as i32,
                plot.top_left.y
                    + ((1.0 - fy.clamp(-0.02, 1.02)) * (plot.size.height - 1) as f64).round()
                        as i32,
            )
        };
        let bottom_right =
            plot.top_left + Point::new(plot.size.width as i32 - 1, plot.size.height as i32 - 1);
        for (value, y) in even_ticks(y0, y1, plot.top_left.y, bottom_right.y, true) {
            canvas.line(
                Point::new(plot.top_left.x, y),
                Point::new(bottom_right.x, y),
                GRID,
                1,
            );
            let label = format_tick(value, self.log_y);
            canvas.text(
                &label,
                Point::new(origin.x + 2, y - 4),
                &FONT_6X10,
                AXIS,
                false,
            );
        }
        for x in self.x_ticks(x0, x1) {
            let px = to_px(x, 0.0).x;
            canvas.line(
                Point::new(px, plot.top_left.y),
                Point::new(px, bottom_right.y),
                GRID,
                1,
            );
            let at = Point::new(px, bottom_right.y + 4);
            canvas.text(&format_tick(x, false), at, &FONT_6X10, AXIS, true);
        }
        let _ = plot
            .into_styled(PrimitiveStyle::with_stroke(AXIS, 1))
            .draw(canvas);
        canvas.text(
            &self.x_label,
            Point::new(plot.center().x, bottom_right.y + 16),
            &FONT_6X10,
            AXIS,
            true,
        );
        for (series, color) in self.series.iter().zip(PALETTE.iter().cycle()) {
            for w in series.points.windows(2) {
                canvas.line(to_px(w[0].0, w[0].1), to_px(w[1].0, w[1].1), *color, 2);
            }
            for &(x, y) in &series.points {
                canvas.fill(to_px(x, y) - Point::new(2, 2), Size::new(5, 5), *color);
            }
        }
        self.draw_legend(
            canvas,
            Point::new(plot.top_left.x + 8, origin.y + size.height as i32 - 14),
        );
    }

    fn draw_legend(&self, canvas: &mut Canvas, mut at: Point) {
        for (series, color) in self.series.iter().zip(PALETTE.iter().cycle()) {
            canvas.fill(at + Point::new(0, 2), Size::new(14, 5), *color);
            canvas.text(
                &series.name,
                at + Point::new(18, 0),
                &FONT_6X10,
                AXIS,
                false,
            );
            at.x += 18 + 6 * series.name.len() as i32 + 16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_draws_series_in_palette_colours_and_text_without_system_fonts() {
        let mut canvas = Canvas::new(400, 300, Rgb888::WHITE);
        LineChart {
            title: "loss".into(),
            x_label: "epoch".into(),
            series: vec![Series {
                name: "train".into(),
                points: vec![(1.0, 0.5), (2.0, 0.25), (3.0, 0.1)],
            }],
            y_range: None,
            log_y: false,
        }
        .draw(&mut canvas, Point::zero(), Size::new(400, 300));
        let count = |c: Rgb888| {
            (0..300)
                .flat_map(|y| (0..400).map(move |x| (x, y)))
                .filter(|&(x, y)| canvas.pixel(x, y) == Some(c))
                .count()
        };
        assert!(count(PALETTE[0]) > 200, "the series line is drawn");
        assert!(count(AXIS) > 500, "axes and labels are drawn");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        canvas.save_png(&path).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[1..4], b"PNG");
    }

    #[test]
    fn ticks_are_readable() {
        assert_eq!(format_tick(0.5, false), "0.500");
        assert_eq!(format_tick(-3.0, true), "1.0e-3");
        assert_eq!(format_tick(10.0, false), "10");
        assert_eq!(format_tick(2.5, false), "2.5");
    }
}
