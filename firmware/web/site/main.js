// @ts-check
/**
 * @file The page's side of the board's app compiled to WebAssembly (firmware/web/src/exports.rs
 * is the other): pointer events become touch-panel polls, one per event (coalesced moves
 * included, so no sample is lost); while nothing touches, an idle poll every POLL_MS lets a
 * drawing settle into a digit as on the board. The module's 320x240 frame is copied to the
 * canvas after every draw, and the answer, its top 3 and the 28x28 input shown beside it.
 *
 * `?model=URL` runs another int8 flat model file instead of the embedded one; `?scale=N` shows
 * the screen at N device pixels per board pixel (default 2, the browser test uses 1).
 */

/** The board's touch poll period (`app::session::POLL_MS`). */
const POLL_MS = 10;

/** @param {string} text */
function fail(text) {
  const message = /** @type {HTMLElement} */ (document.getElementById('message'));
  message.textContent = text;
  message.hidden = false;
  document.body.dataset.state = 'failed';
}

/**
 * @typedef {{
 *   memory: WebAssembly.Memory,
 *   model_buffer(len: number): number,
 *   start(fetched: number): number,
 *   message_ptr(): number, message_len(): number,
 *   pointer(x: number, y: number, touching: number): number,
 *   tick(): number,
 *   frame_ptr(): number, frame_draws(): number,
 *   screen_width(): number, screen_height(): number,
 *   answer_digit(rank: number): number, answer_probability(rank: number): number,
 *   inference_us(): number, input_ptr(): number,
 *   model_ptr(): number, model_len(): number,
 * }} Exports
 */

/** @returns {Promise<Exports>} */
async function load() {
  const imports = { env: { now_ms: () => performance.now() } };
  const response = await fetch('web.wasm');
  if (!response.ok) throw new Error(`web.wasm: HTTP ${response.status}`);
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), imports);
  return /** @type {Exports} */ (/** @type {unknown} */ (instance.exports));
}

/**
 * Copies a model file into the module, for `start(1)`.
 *
 * @param {Exports} app
 * @param {string} url
 */
async function copyModel(app, url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const at = app.model_buffer(bytes.length);
  new Uint8Array(app.memory.buffer, at, bytes.length).set(bytes);
}

async function main() {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') {
    fail('This browser does not run WebAssembly, which the board\'s app needs here. Any current browser does.');
    return;
  }
  const params = new URLSearchParams(location.search);
  const modelUrl = params.get('model');
  const scale = Math.max(1, Math.round(Number(params.get('scale') ?? 2)) || 2);
  /** @type {Exports} */
  let app;
  try {
    app = await load();
    if (modelUrl) {
      await copyModel(app, modelUrl);
      /** @type {HTMLElement} */ (document.getElementById('model')).textContent = modelUrl;
    }
  } catch (e) {
    fail(`The board's app could not be loaded: ${e}`);
    return;
  }
  if (!app.start(modelUrl ? 1 : 0)) {
    const text = new TextDecoder().decode(new Uint8Array(app.memory.buffer, app.message_ptr(), app.message_len()));
    fail(`The board's app cannot start: ${text}${modelUrl ? ` (${modelUrl})` : ''}`);
    return;
  }
  const [width, height] = [app.screen_width(), app.screen_height()];
  const screen = /** @type {HTMLCanvasElement} */ (document.getElementById('screen'));
  screen.style.width = `${(width * scale) / devicePixelRatio}px`;
  screen.style.height = `${(height * scale) / devicePixelRatio}px`;
  const context = /** @type {CanvasRenderingContext2D} */ (screen.getContext('2d'));
  const frame = context.createImageData(width, height);
  const inputCanvas = /** @type {HTMLCanvasElement} */ (document.getElementById('input'));
  const inputContext = /** @type {CanvasRenderingContext2D} */ (inputCanvas.getContext('2d'));
  const input = inputContext.createImageData(28, 28);
  const top3 = /** @type {HTMLElement} */ (document.getElementById('top3'));
  const timing = /** @type {HTMLElement} */ (document.getElementById('timing'));

  // The model file it runs, to download.
  const model = new Uint8Array(app.memory.buffer, app.model_ptr(), app.model_len()).slice();
  const download = /** @type {HTMLAnchorElement} */ (document.getElementById('download'));
  download.href = URL.createObjectURL(new Blob([model], { type: 'application/octet-stream' }));
  download.hidden = false;

  /** What the browser test reads. */
  const state = { firstPaintMs: NaN, recognised: /** @type {number[]} */ ([]), answer: -1, model: () => Array.from(model) };
  Object.assign(window, { mnistEdge: state });

  function showAnswer() {
    const digit = app.answer_digit(0);
    state.answer = digit;
    top3.replaceChildren();
    if (digit < 0) {
      top3.append(Object.assign(document.createElement('li'), { textContent: 'draw a digit' }));
      timing.textContent = '';
      inputContext.clearRect(0, 0, 28, 28);
      return;
    }
    for (let rank = 0; rank < 3; rank += 1) {
      const probability = (app.answer_probability(rank) * 100).toFixed(1);
      top3.append(Object.assign(document.createElement('li'), { textContent: `${app.answer_digit(rank)}: ${probability}%` }));
    }
    timing.textContent = `inference ${(app.inference_us() / 1000).toFixed(2)} ms in this browser`;
    const grey = new Uint8Array(app.memory.buffer, app.input_ptr(), 28 * 28);
    grey.forEach((v, i) => input.data.set([v, v, v, 255], i * 4));
    inputContext.putImageData(input, 0, 0);
  }

  let painted = -1;
  function paint() {
    const draws = app.frame_draws();
    if (draws === painted) return;
    painted = draws;
    frame.data.set(new Uint8Array(app.memory.buffer, app.frame_ptr(), width * height * 4));
    context.putImageData(frame, 0, 0);
    if (Number.isNaN(state.firstPaintMs)) {
      state.firstPaintMs = performance.now();
      document.body.dataset.state = 'running';
    }
    showAnswer();
  }

  /** @param {number} digit */
  function recognised(digit) {
    if (digit >= 0) state.recognised.push(digit);
  }

  /**
   * The board pixel under a pointer event (the canvas's content box, inside its border).
   *
   * @param {PointerEvent} event
   */
  function at(event) {
    const rect = screen.getBoundingClientRect();
    const [left, top] = [rect.left + screen.clientLeft, rect.top + screen.clientTop];
    return [
      Math.floor(((event.clientX - left) * width) / screen.clientWidth),
      Math.floor(((event.clientY - top) * height) / screen.clientHeight),
    ];
  }

  let touching = false;
  screen.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    touching = true;
    screen.setPointerCapture(event.pointerId);
    const [x, y] = at(event);
    recognised(app.pointer(x, y, 1));
    paint();
  });
  screen.addEventListener('pointermove', (event) => {
    if (!touching) return;
    const samples = event.getCoalescedEvents?.() ?? [];
    for (const sample of samples.length > 0 ? samples : [event]) {
      const [x, y] = at(sample);
      recognised(app.pointer(x, y, 1));
    }
    paint();
  });
  /** @param {PointerEvent} event */
  function lift(event) {
    if (!touching) return;
    touching = false;
    const [x, y] = at(event);
    recognised(app.pointer(x, y, 0));
    paint();
  }
  screen.addEventListener('pointerup', lift);
  screen.addEventListener('pointercancel', lift);
  setInterval(() => {
    if (!touching) recognised(app.tick());
    paint();
  }, POLL_MS);
  paint();
}

main();
