//! Where everything sits on a screen, derived from its size: the canvas, the results panel right
//! of it, the clear button, the text lines, the calibration crosses. The [`session`](crate::session)
//! hit-tests touches with it and the [`ui`](crate::ui) draws with it, so neither knows the other.

use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;

use crate::canvas::SIDE;

/// Space around the canvas and the panel.
const MARGIN: i32 = 12;
/// Height of the title band above the canvas.
const TITLE_BAND: i32 = 40;
/// Gap between the canvas and the results panel.
const GAP: i32 = 24;
/// The clear button's height.
const BUTTON_HEIGHT: i32 = 32;
/// The results panel's width, clear button included.
const PANEL_WIDTH: i32 = 112;

/// The screen's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The screen.
    pub screen: Size,
    /// Where the title's baseline starts.
    pub title_at: Point,
    /// Where the canvas sits (shown 1:1).
    pub canvas_origin: Point,
    /// The clear button.
    pub clear_button: Rectangle,
    /// The results panel right of the canvas (digit, answer, bars, time), redrawn as a whole.
    pub results_area: Rectangle,
    /// Where the 28x28 digit the model saw is shown, 2x.
    pub digit_origin: Point,
    /// Where the answer's baseline starts.
    pub answer_at: Point,
    /// Where the two likeliest digits of an unsure answer go: the middle of their baseline,
    /// under the "?".
    pub top2_at: Point,
    /// Where the first probability bar's row starts (one row per 20 px below).
    pub bars_at: Point,
    /// Where the inference time's baseline starts.
    pub time_at: Point,
}

impl Layout {
    /// The smallest screen the layout fits: the canvas, the gap and the panel side by side.
    pub const MIN_SCREEN: Size = Size::new(
        (2 * MARGIN + SIDE as i32 + GAP + PANEL_WIDTH) as u32,
        (TITLE_BAND + SIDE as i32 + 2 * MARGIN + 16) as u32,
    );

    /// The layout of a `screen` (landscape), or `None` when it is smaller than
    /// [`MIN_SCREEN`](Self::MIN_SCREEN): the canvas keeps its resolution, the panel takes the
    /// right edge, the clear button its bottom.
    pub const fn for_screen(screen: Size) -> Option<Layout> {
        if screen.width < Self::MIN_SCREEN.width || screen.height < Self::MIN_SCREEN.height {
            return None;
        }
        let (width, height) = (screen.width as i32, screen.height as i32);
        let panel_x = MARGIN + SIDE as i32 + GAP;
        let button_y = height - MARGIN - BUTTON_HEIGHT;
        let panel_width = width - panel_x - MARGIN;
        let top = TITLE_BAND - 4;
        let answer_at = Point::new(panel_x + 74, 70);
        Some(Layout {
            screen,
            title_at: Point::new(MARGIN, 26),
            canvas_origin: Point::new(MARGIN, TITLE_BAND),
            clear_button: Rectangle::new(
                Point::new(panel_x, button_y),
                Size::new(panel_width as u32, BUTTON_HEIGHT as u32),
            ),
            results_area: Rectangle::new(
                Point::new(panel_x - 6, top),
                Size::new((width - panel_x + 6) as u32, (button_y - 4 - top) as u32),
            ),
            digit_origin: Point::new(panel_x, TITLE_BAND),
            answer_at,
            // Centred under the answer's 10x20 character.
            top2_at: Point::new(answer_at.x + 5, answer_at.y + 20),
            bars_at: Point::new(panel_x, 116),
            time_at: Point::new(panel_x, button_y - 10),
        })
    }

    /// A touch at `point` (screen coordinates) as canvas coordinates, if it is on the canvas.
    pub fn canvas_point(&self, point: Point) -> Option<(f32, f32)> {
        let p = point - self.canvas_origin;
        let inside = (0..SIDE as i32).contains(&p.x) && (0..SIDE as i32).contains(&p.y);
        inside.then_some((p.x as f32, p.y as f32))
    }

    /// The screen position of a canvas point (rounded): where a finger drawing there touches.
    pub fn screen_point(&self, (x, y): (f32, f32)) -> Point {
        self.canvas_origin + Point::new(libm::roundf(x) as i32, libm::roundf(y) as i32)
    }

    /// True when `point` is on the clear button.
    pub fn is_clear(&self, point: Point) -> bool {
        self.clear_button.contains(point)
    }

    /// The three touch-calibration crosses: near two corners and the middle of the opposite
    /// edge, far apart so the fit is well conditioned.
    pub fn calibration_targets(&self) -> [Point; 3] {
        let (w, h) = (self.screen.width as i32, self.screen.height as i32);
        [
            Point::new(w / 10, h / 10),
            Point::new(w * 9 / 10, h / 2),
            Point::new(w / 2, h * 9 / 10),
        ]
    }

    /// The screen's centre line: where centred text is placed around.
    pub fn centre(&self) -> Point {
        Point::new(self.screen.width as i32 / 2, self.screen.height as i32 / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_landscape_st7789_layout_is_the_one_the_screens_were_drawn_with() {
        let layout = Layout::for_screen(Size::new(320, 240)).unwrap();
        assert_eq!(Layout::MIN_SCREEN, Size::new(320, 240));
        assert_eq!(layout.canvas_origin, Point::new(12, 40));
        assert_eq!(
            layout.clear_button,
            Rectangle::new(Point::new(196, 196), Size::new(112, 32))
        );
        assert_eq!(
            layout.results_area,
            Rectangle::new(Point::new(190, 36), Size::new(130, 156))
        );
        assert_eq!(layout.digit_origin, Point::new(196, 40));
        assert_eq!(layout.answer_at, Point::new(270, 70));
        assert_eq!(layout.time_at, Point::new(196, 186));
        assert_eq!(
            layout.calibration_targets(),
            [
                Point::new(32, 24),
                Point::new(288, 120),
                Point::new(160, 216)
            ]
        );
    }

    #[test]
    fn larger_screens_fit_smaller_ones_do_not() {
        let big = Layout::for_screen(Size::new(480, 320)).unwrap();
        assert!(big.clear_button.bottom_right().unwrap().x < 480);
        assert!(big.results_area.bottom_right().unwrap().y < 320);
        assert_eq!(Layout::for_screen(Size::new(240, 240)), None);
        assert_eq!(Layout::for_screen(Size::new(320, 200)), None);
    }

    #[test]
    fn touches_map_to_the_canvas_and_back() {
        let layout = Layout::for_screen(Size::new(320, 240)).unwrap();
        assert_eq!(layout.canvas_point(Point::new(12, 40)), Some((0.0, 0.0)));
        assert_eq!(layout.canvas_point(Point::new(172, 40)), None);
        assert_eq!(layout.screen_point((10.4, 20.6)), Point::new(22, 61));
        assert!(layout.is_clear(Point::new(200, 200)));
        assert!(!layout.is_clear(Point::new(100, 100)));
    }
}
