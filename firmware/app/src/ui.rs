//! The screen, drawn with embedded-graphics on any RGB565 target (the ST7789 panel, the desktop
//! simulator, a framebuffer in tests) where a [`Layout`] puts things: the drawing canvas, the
//! digit the model saw, its answer (a digit, or "?" with the two likeliest when the model is
//! unsure), the top-3 probabilities as bars, the inference time and a
//! clear button; the touch calibration's screens; and the screen of a [`Fault`] that stopped the
//! board. Text is built with heapless strings, not `core::fmt`, which would cost flash.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_10X20};
use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Alignment, Text};
use heapless::String;

use crate::calibration::{CalibrationScreen, RECALIBRATE_HINT, Source};
use crate::canvas::{Canvas, SIDE};
use crate::fault::Fault;
use crate::layout::Layout;
use crate::preprocess::DIGIT_SIDE;
use crate::recognizer::{Answer, Prediction};
use crate::session::{Screen, Update};

const BACKGROUND: Rgb565 = Rgb565::new(2, 6, 8);
const PAPER: Rgb565 = Rgb565::BLACK;
const ACCENT: Rgb565 = Rgb565::new(31, 41, 0);
const BAR: Rgb565 = Rgb565::new(6, 44, 20);
/// A fault screen's background: dark red, unlike any screen of a working board.
const FAULT_BACKGROUND: Rgb565 = Rgb565::new(12, 0, 0);

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

/// The UI's two text sizes.
fn text_style(big: bool, color: Rgb565) -> MonoTextStyle<'static, Rgb565> {
    MonoTextStyle::new(if big { &FONT_10X20 } else { &FONT_6X10 }, color)
}

fn text<D: DrawTarget<Color = Rgb565>>(
    target: &mut D,
    s: &str,
    at: Point,
    big: bool,
    color: Rgb565,
) -> Result<(), D::Error> {
    let style = text_style(big, color);
    Text::new(s, at, style).draw(target).map(|_| ())
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
    draw_frame(screen.layout, target)?;
    draw_canvas(screen.layout, screen.canvas, Canvas::area(), target)?;
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
        draw_canvas(screen.layout, screen.canvas, area, target)?;
    }
    if update.results {
        draw_results(screen, target)?;
    }
    Ok(())
}

/// The parts that never change: background, title, the canvas frame and the clear button.
pub fn draw_frame<D: DrawTarget<Color = Rgb565>>(
    layout: &Layout,
    target: &mut D,
) -> Result<(), D::Error> {
    target.clear(BACKGROUND)?;
    text(target, "Draw a digit", layout.title_at, true, Rgb565::WHITE)?;
    let frame = Rectangle::new(
        layout.canvas_origin - Point::new(1, 1),
        Size::new(SIDE as u32 + 2, SIDE as u32 + 2),
    );
    frame
        .into_styled(PrimitiveStyle::with_stroke(ACCENT, 1))
        .draw(target)?;
    layout
        .clear_button
        .into_styled(PrimitiveStyle::with_fill(ACCENT))
        .draw(target)?;
    // Centred across the button; the large font's baseline 22 px down centres its capitals in
    // the button's 32 px.
    let label_width = 5 * FONT_10X20.character_size.width as i32;
    let label_at = layout.clear_button.top_left
        + Point::new(
            (layout.clear_button.size.width as i32 - label_width) / 2,
            22,
        );
    text(target, "CLEAR", label_at, true, BACKGROUND)
}

/// Draws `area` (canvas coordinates) of the canvas at its place on the screen.
pub fn draw_canvas<D: DrawTarget<Color = Rgb565>>(
    layout: &Layout,
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
    target.fill_contiguous(&area.translate(layout.canvas_origin), colors)
}

/// Draws the results panel: the digit the model saw, its answer, the top-3 bars and the time
/// (or an empty panel before the first recognition).
pub fn draw_results<D: DrawTarget<Color = Rgb565>>(
    screen: &Screen<'_>,
    target: &mut D,
) -> Result<(), D::Error> {
    let layout = screen.layout;
    layout
        .results_area
        .into_styled(PrimitiveStyle::with_fill(BACKGROUND))
        .draw(target)?;
    if let Some(digit) = screen.digit {
        draw_pixels(target, layout.digit_origin, DIGIT_SIDE, 2, digit)?;
    }
    if let Some(prediction) = screen.prediction {
        draw_prediction(layout, &prediction, target)?;
    }
    if let Some(us) = screen.inference_us {
        text(
            target,
            &milliseconds(us),
            layout.time_at,
            false,
            Rgb565::WHITE,
        )?;
    }
    if let Some(source) = screen.notice {
        draw_notice(layout, source, target)?;
    }
    Ok(())
}

/// The calibration notice, in the results panel's top left, where the digit goes later.
fn draw_notice<D: DrawTarget<Color = Rgb565>>(
    layout: &Layout,
    source: Source,
    target: &mut D,
) -> Result<(), D::Error> {
    let area = layout.results_area;
    let left = layout.digit_origin.x;
    let columns = usize::try_from(
        (area.top_left.x + area.size.width as i32 - left) / FONT_6X10.character_size.width as i32,
    )
    .unwrap_or(0);
    let mut y = layout.digit_origin.y + SMALL_LINE;
    for (paragraph, color) in [(source.notice(), ACCENT), (RECALIBRATE_HINT, Rgb565::WHITE)] {
        for line in wrap(paragraph, columns) {
            text(target, line, Point::new(left, y), false, color)?;
            y += SMALL_LINE;
        }
        y += SMALL_LINE / 2;
    }
    Ok(())
}

/// Where the inference time can appear: the box of the longest time text. Two screens of the
/// same drawing differ only here (the time is measured), so comparisons leave it out.
pub fn time_area(layout: &Layout) -> Rectangle {
    Text::new(
        &milliseconds(u32::MAX),
        layout.time_at,
        MonoTextStyle::new(&FONT_6X10, Rgb565::WHITE),
    )
    .bounding_box()
}

/// The characters an answer can be: a digit, or "?" ([`Answer::Unsure`]).
const ANSWER_GLYPHS: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "?"];

fn answer_text(
    layout: &Layout,
    glyph: &'static str,
) -> Text<'static, MonoTextStyle<'static, Rgb565>> {
    Text::new(
        glyph,
        layout.answer_at,
        MonoTextStyle::new(&FONT_10X20, ACCENT),
    )
}

/// The answer's character on screen: its digit, or "?".
fn answer_glyph(answer: Answer) -> &'static str {
    let index = match answer {
        Answer::Digit(digit) => usize::from(digit),
        Answer::Unsure { .. } => 10,
    };
    ANSWER_GLYPHS.get(index).copied().unwrap_or("?")
}

/// Reads the answer off a screen (`pixel` gives its colours): the digit or `'?'` whose
/// rendering fills the answer's place exactly, or `None` (no answer shown, or something else is
/// there). This is how a camera on the panel would read it, used to check what a board really
/// displays.
pub fn read_answer(layout: &Layout, pixel: impl Fn(Point) -> Option<Rgb565>) -> Option<char> {
    let mut matches = ANSWER_GLYPHS.iter().filter(|&&glyph| {
        let answer = answer_text(layout, glyph);
        let mut cell = ScreenArea::<GLYPH_PIXELS>::filled(answer.bounding_box(), BACKGROUND);
        let _ = answer.draw(&mut cell);
        cell.area
            .points()
            .zip(cell.pixels.iter())
            .all(|(p, &color)| pixel(p) == Some(color))
    });
    match (matches.next(), matches.next()) {
        (Some(glyph), None) => glyph.chars().next(),
        _ => None,
    }
}

/// One large character cell, for [`read_answer`].
const GLYPH_PIXELS: usize = 10 * 20;

fn draw_prediction<D: DrawTarget<Color = Rgb565>>(
    layout: &Layout,
    prediction: &Prediction,
    target: &mut D,
) -> Result<(), D::Error> {
    let answer = prediction.answer();
    answer_text(layout, answer_glyph(answer)).draw(target)?;
    if let Answer::Unsure { first, second } = answer {
        // "3 or 5": the two readings the model hesitates between.
        let mut top2: String<6> = String::new();
        push_number(&mut top2, u32::from(first));
        let _ = top2.push_str(" or ");
        push_number(&mut top2, u32::from(second));
        centred(target, &top2, layout.top2_at, false)?;
    }
    for (row, (digit, p)) in (0i32..).zip(prediction.top3()) {
        let at = layout.bars_at + Point::new(0, row * 20);
        let mut label: String<4> = String::new();
        let _ = label.push(char::from(b'0' + digit % 10));
        text(target, &label, at + Point::new(0, 9), false, Rgb565::WHITE)?;
        let width = libm::roundf(p.clamp(0.0, 1.0) * 70.0) as u32;
        Rectangle::new(at + Point::new(10, 0), Size::new(width.max(1), 10))
            .into_styled(PrimitiveStyle::with_fill(BAR))
            .draw(target)?;
        text(
            target,
            &percent(p),
            at + Point::new(84, 9),
            false,
            Rgb565::WHITE,
        )?;
    }
    Ok(())
}

/// Text centred on `at` (its baseline's middle).
fn centred<D: DrawTarget<Color = Rgb565>>(
    target: &mut D,
    s: &str,
    at: Point,
    big: bool,
) -> Result<(), D::Error> {
    let style = text_style(big, Rgb565::WHITE);
    let centred = Text::with_alignment(s, at, style, Alignment::Center);
    centred.draw(target).map(|_| ())
}

/// A calibration screen (see [`crate::calibration`]): the prompt to lift the finger, a cross to
/// touch, or the result, with the coefficients to keep (what the log says, for a user without a
/// debug probe).
pub fn draw_calibration<D: DrawTarget<Color = Rgb565>>(
    screen: &CalibrationScreen,
    layout: &Layout,
    target: &mut D,
) -> Result<(), D::Error> {
    target.clear(BACKGROUND)?;
    let centre = layout.centre();
    match *screen {
        CalibrationScreen::Prompt => {
            centred(
                target,
                "Touch calibration",
                centre - Point::new(0, 10),
                true,
            )?;
            centred(
                target,
                "Lift your finger, then touch",
                centre + Point::new(0, 16),
                false,
            )?;
            centred(
                target,
                "the centre of each cross.",
                centre + Point::new(0, 30),
                false,
            )
        }
        CalibrationScreen::Target { index, point } => {
            let mut title: String<32> = String::new();
            let _ = title.push_str("Touch the cross ");
            push_number(&mut title, index as u32 + 1);
            let _ = title.push_str("/3");
            centred(target, &title, centre + Point::new(0, 6), true)?;
            let style = PrimitiveStyle::with_stroke(ACCENT, 1);
            for (from, to) in [
                (Point::new(-10, 0), Point::new(10, 0)),
                (Point::new(0, -10), Point::new(0, 10)),
            ] {
                Line::new(point + from, point + to)
                    .into_styled(style)
                    .draw(target)?;
            }
            Ok(())
        }
        CalibrationScreen::Done(Ok(calibration)) => {
            centred(target, "Calibrated", centre - Point::new(0, 40), true)?;
            centred(target, "Coefficients", centre - Point::new(0, 16), false)?;
            centred(
                target,
                "(app::touch::Calibration):",
                centre - Point::new(0, 4),
                false,
            )?;
            for (row, three) in (0i32..).zip(calibration.coefficients.chunks(3)) {
                let mut line: String<48> = String::new();
                for (i, &c) in three.iter().enumerate() {
                    if i > 0 {
                        let _ = line.push_str(", ");
                    }
                    push_decimal(&mut line, c, 4);
                }
                centred(target, &line, centre + Point::new(0, 14 + 12 * row), false)?;
            }
            centred(
                target,
                "Touch to continue",
                centre + Point::new(0, 60),
                false,
            )
        }
        CalibrationScreen::Done(Err(_)) => {
            centred(
                target,
                "Calibration failed",
                centre - Point::new(0, 24),
                true,
            )?;
            centred(target, "The three touches lie on a line:", centre, false)?;
            centred(
                target,
                "keeping the default.",
                centre + Point::new(0, 12),
                false,
            )?;
            centred(
                target,
                "Touch to continue",
                centre + Point::new(0, 48),
                false,
            )
        }
    }
}

/// A fault screen's left and right margin, in pixels.
const FAULT_MARGIN: i32 = 8;
/// The small font's line pitch.
const SMALL_LINE: i32 = 12;
/// The longest source path a fault screen shows: its end, where the file's name is.
const FAULT_PATH_CHARS: usize = 96;

/// A line under the calibration's result (its last screen): whether the board kept the fit.
pub fn draw_calibration_note<D: DrawTarget<Color = Rgb565>>(
    note: &str,
    layout: &Layout,
    target: &mut D,
) -> Result<(), D::Error> {
    let at = layout.centre() + Point::new(0, 84);
    let centred = Text::with_alignment(note, at, text_style(false, ACCENT), Alignment::Center);
    centred.draw(target).map(|_| ())
}

/// The screen of a fault that stopped the board (see [`crate::fault`]): what happened, where
/// for a panic, and the LED's blink code, in white on dark red over the whole target. Lines that
/// do not fit are left out; the log has everything.
pub fn draw_fault<D: DrawTarget<Color = Rgb565>>(
    fault: &Fault<'_>,
    target: &mut D,
) -> Result<(), D::Error> {
    target.clear(FAULT_BACKGROUND)?;
    let area = target.bounding_box();
    let left = area.top_left.x + FAULT_MARGIN;
    let columns = usize::try_from(
        (area.size.width as i32 - 2 * FAULT_MARGIN) / FONT_6X10.character_size.width as i32,
    )
    .unwrap_or(0);
    text(
        target,
        fault.title(),
        Point::new(left, area.top_left.y + 24),
        true,
        Rgb565::WHITE,
    )?;

    let mut footer: String<64> = String::new();
    let _ = footer.push_str("The LED repeats ");
    push_number(&mut footer, u32::from(fault.blink_code().blinks));
    let _ = footer.push_str(" blinks. Press reset to restart.");
    let footer_y = area.top_left.y + area.size.height as i32 - 8;
    text(
        target,
        &footer,
        Point::new(left, footer_y),
        false,
        Rgb565::WHITE,
    )?;

    // The body's lines, from under the title down to the footer.
    let mut y = area.top_left.y + 48;
    let mut paragraph = |target: &mut D, s: &str| -> Result<(), D::Error> {
        for line in wrap(s, columns) {
            if y > footer_y - 2 * SMALL_LINE {
                break;
            }
            text(target, line, Point::new(left, y), false, Rgb565::WHITE)?;
            y += SMALL_LINE;
        }
        y += SMALL_LINE / 2;
        Ok(())
    };
    match *fault {
        Fault::Display => Ok(()),
        Fault::Model(e) => paragraph(target, e.summary()),
        Fault::Panic {
            message,
            file,
            line,
        } => {
            paragraph(target, message)?;
            let mut at: String<{ FAULT_PATH_CHARS + 16 }> = String::new();
            let _ = at.push_str("at ");
            let chars = file.chars().count();
            let skipped = if chars > FAULT_PATH_CHARS {
                let _ = at.push_str("...");
                chars - (FAULT_PATH_CHARS - 3)
            } else {
                0
            };
            for c in file.chars().skip(skipped) {
                let _ = at.push(c);
            }
            let _ = at.push(':');
            push_number(&mut at, line);
            paragraph(target, &at)
        }
    }
}

/// Splits `s` into lines of at most `columns` characters, at spaces where it can (a longer word
/// is cut), without the spaces at the breaks.
fn wrap(s: &str, columns: usize) -> impl Iterator<Item = &str> {
    let columns = columns.max(1);
    let mut rest = s.trim_start();
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest
            .char_indices()
            .nth(columns)
            .map_or(rest.len(), |(i, _)| i);
        let cut = if limit == rest.len() || rest[limit..].starts_with(' ') {
            limit
        } else {
            rest[..limit]
                .rfind(' ')
                .filter(|&space| space > 0)
                .unwrap_or(limit)
        };
        let (line, tail) = rest.split_at(cut);
        rest = tail.trim_start();
        Some(line.trim_end())
    })
}

/// A number for a log line: `value` with `decimals` digits after the point, formatted with
/// integers as the screen's are (core::fmt's float formatting would cost kilobytes of flash).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decimal {
    /// The number.
    pub value: f32,
    /// Digits after the point.
    pub decimals: u32,
}

impl core::fmt::Display for Decimal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s: String<24> = String::new();
        push_decimal(&mut s, self.value, self.decimals);
        f.write_str(&s)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Decimal {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

/// Appends `value` with `decimals` digits after the point (rounded), `-` first if negative.
fn push_decimal<const N: usize>(s: &mut String<N>, value: f32, decimals: u32) {
    if value < 0.0 {
        let _ = s.push('-');
    }
    let scale = 10u32.pow(decimals);
    let scaled = libm::roundf(libm::fabsf(value) * scale as f32);
    let whole = if scaled >= u32::MAX as f32 {
        u32::MAX
    } else {
        scaled as u32
    };
    push_number(s, whole / scale);
    let _ = s.push('.');
    let fraction = whole % scale;
    for place in (0..decimals).rev() {
        let _ = s.push(char::from(b'0' + (fraction / 10u32.pow(place) % 10) as u8));
    }
}

/// An in-memory copy of a small rectangle of the screen, `N` pixels row-major: what
/// [`read_answer`] renders a glyph into.
struct ScreenArea<const N: usize> {
    area: Rectangle,
    pixels: [Rgb565; N],
}

impl<const N: usize> ScreenArea<N> {
    /// `area` (of `N` pixels; drawing outside it, or past `N`, is ignored) filled with `color`.
    const fn filled(area: Rectangle, color: Rgb565) -> Self {
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
}

impl<const N: usize> OriginDimensions for ScreenArea<N> {
    fn size(&self) -> Size {
        let corner = self.area.top_left + self.area.size;
        Size::new(corner.x.max(0) as u32, corner.y.max(0) as u32)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(s: &str, columns: usize) -> heapless::Vec<&str, 16> {
        wrap(s, columns).collect()
    }

    #[test]
    fn a_decimal_is_rounded_to_its_places_with_its_sign() {
        let shown = |value, decimals| {
            let mut s: String<24> = String::new();
            let _ = core::fmt::write(&mut s, format_args!("{}", Decimal { value, decimals }));
            s
        };
        assert_eq!(shown(-0.089_996, 5), "-0.09000");
        assert_eq!(shown(351.25, 1), "351.3");
        assert_eq!(shown(0.0, 2), "0.00");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_only_words_longer_than_a_line() {
        assert_eq!(wrapped("a bc def", 4).as_slice(), &["a bc", "def"]);
        assert_eq!(wrapped("abcd efg", 4).as_slice(), &["abcd", "efg"]);
        assert_eq!(wrapped("abcdefghij", 4).as_slice(), &["abcd", "efgh", "ij"]);
        assert_eq!(wrapped("  a   b  ", 1).as_slice(), &["a", "b"]);
        assert_eq!(wrapped("", 4).as_slice(), &[] as &[&str]);
        assert_eq!(wrapped("x", 0).as_slice(), &["x"]);
        // Characters, not bytes: a cut never splits one.
        assert_eq!(wrapped("ééé é", 2).as_slice(), &["éé", "é", "é"]);
    }
}
