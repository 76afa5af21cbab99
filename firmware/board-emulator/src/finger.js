// @ts-check
/**
 * @file A finger on the emulated panel, in emulated real time: a script of touch-panel polls
 * (one every 10 ms, as `app::synthetic` makes them and the simulator prints them) is played so
 * that each sample is under the finger for one poll period, centred on the firmware's own poll
 * instants. The firmware's polls are found by watching it read the pen-down line.
 */

/** The firmware's touch poll period (`app::session::POLL_MS`), in nanoseconds. */
export const POLL_NS = 10e6;
/** How far a poll may stray from the 10 ms grid and still count as on time. */
const ON_TIME_NS = 0.5e6;

/**
 * One poll of a script: where the finger is (screen pixels), or `null` while it is lifted.
 *
 * @typedef {{ x: number, y: number } | null} Poll
 */

/**
 * Parses the simulator's `--polls` output.
 *
 * @param {string} text
 * @returns {Poll[]}
 */
export function parsePolls(text) {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      if (line.trim() === '-') return null;
      const [x, y] = line.trim().split(/\s+/).map(Number);
      if (!Number.isInteger(x) || !Number.isInteger(y)) throw new Error(`not a poll: ${JSON.stringify(line)}`);
      return { x, y };
    });
}

/**
 * Whether the last `count` polls since `sinceNs` came on the 10 ms grid: the firmware is idle,
 * waiting for its ticker (not busy recognising, not catching up on missed ticks).
 *
 * @param {{ ns: number }[]} reads The firmware's pen-down line reads.
 * @param {number} sinceNs
 * @param {number} count
 */
export function pollingSteadily(reads, sinceNs, count = 3) {
  if (reads.length < count + 1) return false;
  const recent = reads.slice(-(count + 1));
  if (recent[0].ns < sinceNs) return false;
  return recent.every((read, i) => i === 0 || Math.abs(read.ns - recent[i - 1].ns - POLL_NS) <= ON_TIME_NS);
}

/**
 * @typedef {object} Played
 * @property {number} startNs When the first sample went under the finger.
 * @property {number} endNs When the last sample's period ended.
 * @property {number} offGrid Touching samples the firmware polled other than exactly once
 *   (lifted ones may pass unpolled while it is busy recognising or redrawing).
 */

/**
 * Plays `polls` on `board`, starting with the firmware's next poll, and runs the board until
 * the script ends.
 *
 * @param {import('./board.js').Board} board
 * @param {Poll[]} polls
 * @param {string} what What the script draws, for messages.
 * @param {Map<number, () => void>} [hooks] Called when the sample of their index goes under
 *   the finger (an index past the last: when the script ends).
 * @returns {Played}
 */
export function play(board, polls, what, hooks = new Map()) {
  const last = board.penReads.at(-1);
  if (!last) throw new Error(`cannot play ${what}: the firmware has not polled the touch panel yet`);
  let nextPoll = last.ns;
  while (nextPoll < board.nowNs + POLL_NS) nextPoll += POLL_NS;
  const startNs = nextPoll - POLL_NS / 2;
  polls.forEach((poll, k) => board.at(startNs + k * POLL_NS, () => board.setFinger(poll)));
  for (const [k, hook] of hooks) board.at(startNs + k * POLL_NS, hook);
  const endNs = startNs + polls.length * POLL_NS;
  board.at(endNs, () => board.setFinger(null));
  const firstRead = board.penReads.length;
  board.runUntil({ done: () => board.nowNs >= endNs, deadlineNs: endNs + POLL_NS, what });
  const perSample = new Array(polls.length).fill(0);
  for (const read of board.penReads.slice(firstRead)) {
    const k = Math.floor((read.ns - startNs) / POLL_NS);
    if (k >= 0 && k < polls.length) perSample[k]++;
  }
  return { startNs, endNs, offGrid: perSample.filter((n, k) => polls[k] !== null && n !== 1).length };
}
