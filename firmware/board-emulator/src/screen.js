// @ts-check
/**
 * @file Reading the emulated screen the way its user does: finding what it asks to touch.
 */
import { VIEW } from './st7789.js';

/**
 * A small plus-shaped mark on the screen (a calibration cross): the centre of the one colour,
 * other than the background, whose pixels fit in a 15-25 px square.
 *
 * @param {Uint16Array} view
 */
export function findCross(view) {
  /** @type {Map<number, { n: number, left: number, right: number, top: number, bottom: number }>} */
  const colours = new Map();
  view.forEach((colour, i) => {
    const [x, y] = [i % VIEW.width, Math.floor(i / VIEW.width)];
    const box = colours.get(colour) ?? { n: 0, left: x, right: x, top: y, bottom: y };
    colours.set(colour, { n: box.n + 1, left: Math.min(box.left, x), right: Math.max(box.right, x), top: Math.min(box.top, y), bottom: Math.max(box.bottom, y) });
  });
  const small = [...colours.values()].filter((b) => {
    const [w, h] = [b.right - b.left + 1, b.bottom - b.top + 1];
    return w >= 15 && w <= 25 && h >= 15 && h <= 25 && b.n < w + h;
  });
  if (small.length !== 1) return null;
  const [box] = small;
  return { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 };
}
