//! The screen, drawn with embedded-graphics on any RGB565 target (the ST7789 panel, the desktop
//! simulator, a framebuffer in tests): the drawing canvas, the digit the model saw, its answer,
//! the top-3 probabilities as bars, the inference time and a clear button. Text is built with
//! heapless strings, not `core::fmt`, which would cost flash.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_10X20};
use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::Text;
use heapless::String;

use crate::canvas::{Canvas, SIDE};
use crate::preprocess::DIGIT_SIDE;
use crate::recognizer::Prediction;
use crate::session::Update;

/// Display size (landscape ST7789: 320 x 240).
pub const SCREEN: Size = Size::new(320, 240);
/// Where the canvas sits on the screen (shown 1:1).
pub const CANVAS_ORIGIN: Point = Point::new(12, 40);
/// The clear button.
pub const CLEAR_BUTTON: Rectangle = Rectangle::new(Point::new(196, 196), Size::new(112, 32));
/// Where the 28x28 digit the model saw is shown, 2x.
pub const DIGIT_ORIGIN: Point = Point::new(196, 40);
/// The results panel right of the canvas (digit, answer, bars, time), redrawn as a whole.
pub const RESULTS_AREA: Rectangle = Rectangle::new(Point::new(190, 36), Size::new(130, 156));
/// Where the answer (the recognised digit) is written, large: the text's baseline start.
const ANSWER_AT: Point = Point::new(270, 70);
/// Where the inference time is written: the text's baseline start.
const TIME_AT: Point = Point::new(196, 186);

const BACKGROUND: Rgb565 = Rgb565::new(2, 6, 8);
const PAPER: Rgb565 = Rgb565::BLACK;
const ACCENT: Rgb565 = Rgb565::new(31, 41, 0);
const BAR: Rgb565 = Rgb565::new(6, 44, 20);

/// What the screen shows.
pub struct Screen<'a> {
    /// The drawing.
    pub canvas: &'a Canvas,
    /// The preprocessed digit the model classified, if any.
    pub digit: Option<&'a [u8; DIGIT_SIDE * DIGIT_SIDE]>,
    /// The model's answer, if any.
    pub prediction: Option<Prediction>,
    /// How long inference took, in microseconds.
    pub inference_us: Option<u32>,
}

/// A touch at `point` (screen coordinates) as canvas coordinates, if it is on the canvas.
pub fn canvas_point(point: Point) -> Option<(f32, f32)> {
    let p = point - CANVAS_ORIGIN;
    let inside = (0..SIDE as i32).contains(&p.x) && (0..SIDE as i32).contains(&p.y);
    inside.then_some((p.x as f32, p.y as f32))
}

/// The screen position of a canvas point (rounded): where a finger drawing there touches.
pub fn screen_point((x, y): (f32, f32)) -> Point {
    CANVAS_ORIGIN + Point::new(libm::roundf(x) as i32, libm::roundf(y) as i32)
}

/// True when `point` is on the clear button.
pub fn is_clear(point: Point) -> bool {
    CLEAR_BUTTON.contains(point)
}

fn grey(level: u8) -> Rgb565 {
    Rgb565::new(level >> 3, level >> 2, level >> 3)
}

/// Appends the decimal digits of `n` to `s`.
fn push_number<const N: usize>(s: &mut String<N>, n: u32) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut v = n;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (v % 10) as u8;
        }
        len += 1;
        v /= 10;
        if v == 0 || len == digits.len() {
            break;
        }
    }
    for &d in digits.iter().take(len).rev() {
        let _ = s.push(char::from(d));
    }
}

/// "12.3 ms" from microseconds.
pub fn milliseconds(us: u32) -> String<16> {
    let mut s = String::new();
    push_number(&mut s, us / 1000);
    let _ = s.push('.');
    push_number(&mut s, (us % 1000) / 100);
    let _ = s.push_str(" ms");
    s
}

/// "93%" from a probability.
pub fn percent(p: f32) -> String<8> {
    let mut s = String::new();
    push_number(&mut s, libm::roundf(p.clamp(0.0, 1.0) * 100.0) as u32);
    let _ = s.push('%');
    s
}

fn text<D: DrawTarget<Color = Rgb565>>(
    target: &mut D,
    s: &str,
    at: Point,
    big: bool,
    color: Rgb565,
) -> Result<(), D::Error> {
    let font = if big { &FONT_10X20 } else { &FONT_6X10 };
    Text::new(s, at, MonoTextStyle::new(font, color))
        .draw(target)
        .map(|_| ())
}

fn draw_pixels<D: DrawTarget<Color = Rgb565>>(
    target: &mut D,
    origin: Point,
    side: usize,
    scale: u32,
    pixels: &[u8],
) -> Result<(), D::Error> {
    let area = Rectangle::new(origin, Size::new(side as u32 * scale, side as u32 * scale));
    let colors = (0..side * scale as usize).flat_map(move |y| {
        (0..side * scale as usize).map(move |x| {
            let level = pixels
                .get((y / scale as usize) * side + x / scale as usize)
                .copied()
                .unwrap_or(0);
            if level == 0 { PAPER } else { grey(level) }
        })
    });
    target.fill_contiguous(&area, colors)
}

/// Draws the whole screen.
pub fn draw<D: DrawTarget<Color = Rgb565>>(
    screen: &Screen<'_>,
    target: &mut D,
) -> Result<(), D::Error> {
    draw_frame(target)?;
    draw_canvas(screen.canvas, Canvas::area(), target)?;
    draw_results(screen, target)
}

/// Redraws what an update changed: the touched part of the canvas, the results, or the whole
/// screen after a clear. Drawing only the damage keeps a finger stroke fluid on an SPI panel.
pub fn redraw<D: DrawTarget<Color = Rgb565>>(
    screen: &Screen<'_>,
    update: &Update,
    target: &mut D,
) -> Result<(), D::Error> {
    if let Some(area) = update.canvas {
        draw_canvas(screen.canvas, area, target)?;
    }
    if update.results {
        draw_results(screen, target)?;
    }
    Ok(())
}

/// The parts that never change: background, title, the canvas frame and the clear button.
pub fn draw_frame<D: DrawTarget<Color = Rgb565>>(target: &mut D) -> Result<(), D::Error> {
    target.clear(BACKGROUND)?;
    text(
        target,
        "Draw a digit",
        Point::new(12, 26),
        true,
        Rgb565::WHITE,
    )?;
    let frame = Rectangle::new(
        CANVAS_ORIGIN - Point::new(1, 1),
        Size::new(SIDE as u32 + 2, SIDE as u32 + 2),
    );
    frame
        .into_styled(PrimitiveStyle::with_stroke(ACCENT, 1))
        .draw(target)?;
    CLEAR_BUTTON
        .into_styled(PrimitiveStyle::with_fill(ACCENT))
        .draw(target)?;
    text(
        target,
        "CLEAR",
        CLEAR_BUTTON.top_left + Point::new(31, 22),
        true,
        BACKGROUND,
    )
}

/// Draws `area` (canvas coordinates) of the canvas at its place on the screen.
pub fn draw_canvas<D: DrawTarget<Color = Rgb565>>(
    canvas: &Canvas,
    area: Rectangle,
    target: &mut D,
) -> Result<(), D::Error> {
    let area = area.intersection(&Canvas::area());
    let colors = area
        .points()
        .map(|p| match canvas.at(p.x as usize, p.y as usize) {
            0 => PAPER,
            level => grey(level),
        });
    target.fill_contiguous(&area.translate(CANVAS_ORIGIN), colors)
}

/// Draws the results panel: the digit the model saw, its answer, the top-3 bars and the time
/// (or an empty panel before the first recognition).
pub fn draw_results<D: DrawTarget<Color = Rgb565>>(
    screen: &Screen<'_>,
    target: &mut D,
) -> Result<(), D::Error> {
    RESULTS_AREA
        .into_styled(PrimitiveStyle::with_fill(BACKGROUND))
        .draw(target)?;
    if let Some(digit) = screen.digit {
        draw_pixels(target, DIGIT_ORIGIN, DIGIT_SIDE, 2, digit)?;
    }
    if let Some(prediction) = screen.prediction {
        draw_prediction(&prediction, target)?;
    }
    if let Some(us) = screen.inference_us {
        text(target, &milliseconds(us), TIME_AT, false, Rgb565::WHITE)?;
    }
    Ok(())
}

/// Where the inference time can appear: the box of the longest time text. Two screens of the
/// same drawing differ only here (the time is measured), so comparisons leave it out.
pub fn time_area() -> Rectangle {
    Text::new(
        &milliseconds(u32::MAX),
        TIME_AT,
        MonoTextStyle::new(&FONT_6X10, Rgb565::WHITE),
    )
    .bounding_box()
}

fn answer_text(digit: u8) -> Text<'static, MonoTextStyle<'static, Rgb565>> {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    Text::new(
        DIGITS[usize::from(digit % 10)],
        ANSWER_AT,
        MonoTextStyle::new(&FONT_10X20, ACCENT),
    )
}

/// Reads the answer off a screen (`pixel` gives its colours): the digit whose rendering fills
/// the answer's place exactly, or `None` (no answer shown, or something else is there). This is
/// how a camera on the panel would read it, used to check what a board really displays.
pub fn read_answer(pixel: impl Fn(Point) -> Option<Rgb565>) -> Option<u8> {
    let mut matches = (0..10).filter(|&digit| {
        let mut glyph =
            ScreenArea::<GLYPH_PIXELS>::filled(answer_text(digit).bounding_box(), BACKGROUND);
        let _ = answer_text(digit).draw(&mut glyph);
        glyph
            .area
            .points()
            .zip(glyph.pixels.iter())
            .all(|(p, &color)| pixel(p) == Some(color))
    });
    match (matches.next(), matches.next()) {
        (Some(digit), None) => Some(digit),
        _ => None,
    }
}

/// One large character cell, for [`read_answer`].
const GLYPH_PIXELS: usize = 10 * 20;

fn draw_prediction<D: DrawTarget<Color = Rgb565>>(
    prediction: &Prediction,
    target: &mut D,
) -> Result<(), D::Error> {
    answer_text(prediction.digit).draw(target)?;
    for (row, (digit, p)) in (0i32..).zip(prediction.top3()) {
        let y = 116 + row * 20;
        let mut label: String<4> = String::new();
        let _ = label.push(char::from(b'0' + digit % 10));
        text(target, &label, Point::new(196, y + 9), false, Rgb565::WHITE)?;
        let width = libm::roundf(p.clamp(0.0, 1.0) * 70.0) as u32;
        Rectangle::new(Point::new(206, y), Size::new(width.max(1), 10))
            .into_styled(PrimitiveStyle::with_fill(BAR))
            .draw(target)?;
        text(
            target,
            &percent(p),
            Point::new(280, y + 9),
            false,
            Rgb565::WHITE,
        )?;
    }
    Ok(())
}

/// The screen that opens the touch calibration (a finger held on the panel at power-up): it
/// asks to lift the finger, since the crosses come only after it has left the panel.
pub fn draw_calibration_prompt<D: DrawTarget<Color = Rgb565>>(
    target: &mut D,
) -> Result<(), D::Error> {
    target.clear(BACKGROUND)?;
    text(
        target,
        "Touch calibration",
        Point::new(75, 110),
        true,
        Rgb565::WHITE,
    )?;
    text(
        target,
        "Lift your finger, then touch",
        Point::new(76, 136),
        false,
        Rgb565::WHITE,
    )?;
    text(
        target,
        "the centre of each cross.",
        Point::new(85, 150),
        false,
        Rgb565::WHITE,
    )
}

/// The calibration screen: a cross at `target_point` and which of the three it is.
pub fn draw_calibration_target<D: DrawTarget<Color = Rgb565>>(
    target_point: Point,
    index: usize,
    target: &mut D,
) -> Result<(), D::Error> {
    target.clear(BACKGROUND)?;
    let mut title: String<32> = String::new();
    let _ = title.push_str("Touch the cross ");
    push_number(&mut title, index as u32 + 1);
    let _ = title.push_str("/3");
    text(target, &title, Point::new(80, 126), true, Rgb565::WHITE)?;
    let style = PrimitiveStyle::with_stroke(ACCENT, 1);
    for (from, to) in [
        (Point::new(-10, 0), Point::new(10, 0)),
        (Point::new(0, -10), Point::new(0, 10)),
    ] {
        Line::new(target_point + from, target_point + to)
            .into_styled(style)
            .draw(target)?;
    }
    Ok(())
}

/// An in-memory copy of a rectangle of the screen, `N` pixels row-major: the whole screen as a
/// [`Framebuffer`], or a small part of it.
pub struct ScreenArea<const N: usize> {
    area: Rectangle,
    pixels: [Rgb565; N],
}

/// An in-memory screen (150 KB): for tests, screenshots and displayless runs.
pub type Framebuffer = ScreenArea<{ (SCREEN.width * SCREEN.height) as usize }>;

impl Default for Framebuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framebuffer {
    /// A black framebuffer.
    pub const fn new() -> Self {
        Self::filled(Rectangle::new(Point::zero(), SCREEN), Rgb565::BLACK)
    }
}

impl<const N: usize> ScreenArea<N> {
    /// `area` (of `N` pixels; drawing outside it, or past `N`, is ignored) filled with `color`.
    pub const fn filled(area: Rectangle, color: Rgb565) -> Self {
        ScreenArea {
            area,
            pixels: [color; N],
        }
    }

    /// The index of screen point `p` in `pixels`, if it is in the area.
    fn index(&self, p: Point) -> Option<usize> {
        let offset = p - self.area.top_left;
        let width = self.area.size.width as i32;
        let index = offset.y.checked_mul(width)?.checked_add(offset.x)?;
        self.area
            .contains(p)
            .then(|| usize::try_from(index).ok())
            .flatten()
    }

    /// The colour at screen point (x, y), if it is in the area.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb565> {
        let p = Point::new(i32::try_from(x).ok()?, i32::try_from(y).ok()?);
        self.pixels.get(self.index(p)?).copied()
    }

    /// Row-major pixels.
    pub fn pixels(&self) -> &[Rgb565] {
        &self.pixels
    }
}

impl<const N: usize> OriginDimensions for ScreenArea<N> {
    fn size(&self) -> Size {
        SCREEN
    }
}

impl<const N: usize> DrawTarget for ScreenArea<N> {
    type Color = Rgb565;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb565>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, color) in pixels {
            if let Some(px) = self.index(p).and_then(|i| self.pixels.get_mut(i)) {
                *px = color;
            }
        }
        Ok(())
    }
}
