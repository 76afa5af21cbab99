// @ts-check
/**
 * @file The web page in a real browser: serves the built site (scripts/build-web.sh) on
 * 127.0.0.1, drives a headless Chromium through the DevTools protocol (over a pipe, no
 * dependencies), draws the ten synthetic digits the board emulator draws as mouse events at the
 * board's poll period (the simulator's `--polls` scripts, CLEAR tapped between them), reads each
 * answer from the page and compares a screenshot of the screen canvas with the simulator's PNG
 * of the same digit (`simulator --compare`: identical outside the inference time). Then the bad
 * inputs: a model that fails its CRC, and a browser without WebAssembly, must each put a message
 * on the page. Prints, last:
 *
 *   web: <n>/10 recognised in <browser and version>, screen identical to simulator: <yes|no>, wasm <bytes> B, first paint <ms> ms
 *
 * Usage: node browser-test.mjs --site DIR --simulator BIN --chromium BIN --out DIR [--docs-screenshot PNG]
 */

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, statSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, extname, normalize } from 'node:path';
import { tmpdir } from 'node:os';

// The board emulator's reader of the simulator's `--polls` scripts (the same scripts it plays).
import { parsePolls } from '../board-emulator/src/finger.js';

/** The board's touch poll period (`app::session::POLL_MS`). */
const POLL_MS = 10;
/** How long a page may take to start, an answer to come, a check to hold. */
const TIMEOUT_MS = 20_000;
/**
 * How late an event may be sent and the drawing still count: a lift longer than
 * `app::sketch::SETTLE_MS` (400 ms) minus the 100 ms between a digit's strokes would settle
 * half a digit. A later drawing (a machine busy elsewhere) is tapped away with CLEAR and drawn
 * again, and the output says so.
 */
const LATE_MS = 150;
/** Drawings of one digit at the most. */
const TRIES = 3;

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (!name.startsWith('--') || value === undefined) throw new Error(`usage: node browser-test.mjs --site DIR --simulator BIN --chromium BIN --out DIR [--docs-screenshot PNG] (at ${name})`);
    args[name.slice(2)] = value;
  }
  for (const needed of ['site', 'simulator', 'chromium', 'out']) {
    if (!args[needed]) throw new Error(`browser-test.mjs: --${needed} is missing`);
  }
  return args;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.png': 'image/png' };

/**
 * A static server of `site`, and of `extra` under /test/.
 *
 * @param {string} site
 * @param {string} extra
 * @returns {Promise<{ url: string, close(): void }>}
 */
function serve(site, extra) {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const [root, rest] = path.startsWith('/test/') ? [extra, path.slice(6)] : [site, path.slice(1)];
    const file = join(root, normalize(rest || 'index.html').replace(/^(\.\.[/\\])+/, ''));
    try {
      const body = readFileSync(file);
      response.writeHead(200, { 'content-type': TYPES[/** @type {keyof TYPES} */ (extname(file))] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({ url: `http://127.0.0.1:${address.port}`, close: () => server.close() });
    });
  });
}

/**
 * Chromium, headless, spoken to over `--remote-debugging-pipe` (fd 3 in, fd 4 out, messages
 * ending in NUL).
 *
 * @param {string} binary
 */
function launch(binary) {
  const profile = mkdtempSync(join(tmpdir(), 'mnist-edge-chromium-'));
  const child = spawn(binary, [
    '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--no-default-browser-check', '--disable-dev-shm-usage', '--force-color-profile=srgb', '--force-device-scale-factor=1',
    '--window-size=1200,900', `--user-data-dir=${profile}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => { stderr += chunk; });
  const input = /** @type {import('node:stream').Writable} */ (child.stdio[3]);
  const output = /** @type {import('node:stream').Readable} */ (child.stdio[4]);
  let nextId = 1;
  /** @type {Map<number, { resolve(value: any): void, reject(error: Error): void, method: string }>} */
  const pending = new Map();
  let buffered = '';
  output.on('data', (chunk) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
      const waiting = message.id !== undefined && pending.get(message.id);
      if (!waiting) continue;
      pending.delete(message.id);
      if (message.error) waiting.reject(new Error(`${waiting.method}: ${message.error.message}`));
      else waiting.resolve(message.result);
    }
  });
  const exited = new Promise((_, reject) => {
    child.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`)));
    child.on('error', reject);
  });
  exited.catch(() => {});
  return {
    /**
     * @param {string} method
     * @param {object} [params]
     * @param {string} [sessionId]
     * @returns {Promise<any>}
     */
    send(method, params = {}, sessionId = undefined) {
      const id = nextId++;
      const reply = new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
      input.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
      return Promise.race([reply, exited]);
    },
    async close() {
      child.kill();
      await exited.catch(() => {});
      // Chromium's helper processes may still be writing their last files into it.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A tab: its session, an evaluator and the mouse.
 *
 * @param {ReturnType<typeof launch>} browser
 * @param {string} [beforeLoad] a script run in every document before the page's own
 */
async function openTab(browser, beforeLoad) {
  const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true });
  /** @type {(method: string, params?: object) => Promise<any>} */
  const send = (method, params) => browser.send(method, params, sessionId);
  await send('Page.enable');
  await send('Runtime.enable');
  if (beforeLoad) await send('Page.addScriptToEvaluateOnNewDocument', { source: beforeLoad });
  /** @param {string} expression */
  const evaluate = async (expression) => {
    const { result, exceptionDetails } = await send('Runtime.evaluate', { expression, returnByValue: true });
    if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value;
  };
  /**
   * Waits until `expression` is truthy in the page; returns its value.
   *
   * @param {string} expression
   * @param {string} what
   */
  const until = async (expression, what) => {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const value = await evaluate(expression).catch(() => undefined);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  };
  return { send, evaluate, until, close: () => browser.send('Target.closeTarget', { targetId }) };
}

/**
 * Plays a poll script on the page as mouse events, one poll per POLL_MS of real time: a press
 * where a touch starts, a move per touching poll, a release where it ends; lifted polls send
 * nothing (the page polls itself while nothing touches).
 *
 * @param {Awaited<ReturnType<typeof openTab>>} tab
 * @param {{ left: number, top: number, scale: number }} screen
 * @param {({ x: number, y: number } | null)[]} polls
 * @returns {Promise<number>} how late the latest event was sent, in ms
 */
async function play(tab, screen, polls) {
  let last = /** @type {{ x: number, y: number } | null} */ (null);
  let latest = 0;
  // Sent on the poll grid without waiting for each reply (Chromium answers an input event once
  // it is handled, which can take longer than a poll); the pipe keeps them in order.
  /** @type {Promise<any>[]} */
  const sent = [];
  const start = performance.now();
  for (const [i, poll] of polls.entries()) {
    const wait = start + i * POLL_MS - performance.now();
    if (wait > 0) await sleep(wait);
    latest = Math.max(latest, -wait);
    const at = (/** @type {{ x: number, y: number }} */ p) => ({
      x: screen.left + (p.x + 0.5) * screen.scale,
      y: screen.top + (p.y + 0.5) * screen.scale,
    });
    if (poll && !last) {
      sent.push(tab.send('Input.dispatchMouseEvent', { type: 'mousePressed', ...at(poll), button: 'left', buttons: 1, clickCount: 1 }));
    } else if (poll && last) {
      sent.push(tab.send('Input.dispatchMouseEvent', { type: 'mouseMoved', ...at(poll), button: 'left', buttons: 1 }));
    } else if (!poll && last) {
      sent.push(tab.send('Input.dispatchMouseEvent', { type: 'mouseReleased', ...at(last), button: 'left', buttons: 0, clickCount: 1 }));
    }
    last = poll;
  }
  await Promise.all(sent);
  return latest;
}

/**
 * Opens the page at `query` and waits for its first paint; returns the tab and the screen
 * canvas's place.
 *
 * @param {ReturnType<typeof launch>} browser
 * @param {string} url
 */
async function openPage(browser, url) {
  const tab = await openTab(browser);
  await tab.send('Page.navigate', { url });
  await tab.until("document.body?.dataset.state === 'running'", `the page's first paint (${url})`);
  // The canvas's content box (inside its border).
  const rect = await tab.evaluate("(() => { const s = document.getElementById('screen'); const r = s.getBoundingClientRect(); return { left: r.left + s.clientLeft, top: r.top + s.clientTop, width: s.clientWidth }; })()");
  return { tab, screen: { left: rect.left, top: rect.top, scale: rect.width / 320 } };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const wasmBytes = statSync(join(args.site, 'web.wasm')).size;
  const server = await serve(args.site, args.out);
  const browser = launch(args.chromium);
  const failures = [];
  let recognisedCount = 0;
  let identical = true;
  try {
    const version = await browser.send('Browser.getVersion');
    // Debian's chromium says "Chrome/<version>" in headless mode.
    const browserName = `Chromium ${String(version.product).split('/').pop()} (headless)`;
    const { tab, screen } = await openPage(browser, `${server.url}/?scale=1`);
    const firstPaintMs = await tab.evaluate('mnistEdge.firstPaintMs');
    // The page's model with its last byte flipped: its CRC no longer holds.
    const model = Buffer.from(await tab.evaluate('mnistEdge.model()'));
    model[model.length - 1] ^= 0x40;
    writeFileSync(join(args.out, 'corrupt.i8.mnef'), model);
    /** @param {string} what */
    const polls = (what) => parsePolls(execFileSync(args.simulator, ['--polls', what], { encoding: 'utf8' }));
    const clear = polls('clear');
    let tries = 0;
    for (let digit = 0; digit < 10; digit += 1) {
      const before = await tab.evaluate('mnistEdge.recognised.length');
      const late = await play(tab, screen, polls(String(digit)));
      if (late > LATE_MS) {
        tries += 1;
        if (tries >= TRIES) throw new Error(`the events of the ${digit} were sent up to ${Math.round(late)} ms late ${TRIES} times: the machine is too busy to draw in real time`);
        console.log(`web: ${digit}: its events were sent up to ${Math.round(late)} ms late (a busy machine): CLEAR, and again`);
        await tab.until(`mnistEdge.recognised.length > ${before}`, `the late ${digit} to settle`).catch(() => {});
        await play(tab, screen, clear);
        await tab.until('mnistEdge.answer < 0', `CLEAR after the late ${digit}`);
        digit -= 1;
        continue;
      }
      tries = 0;
      const answer = await tab.until(`mnistEdge.recognised.length > ${before} && mnistEdge.answer >= 0 && mnistEdge.answer + 1`, `an answer to the ${digit}`) - 1;
      if (answer === digit) recognisedCount += 1;
      else failures.push(`drew a ${digit}, the page answered ${answer}`);
      await sleep(3 * POLL_MS);
      const shot = await tab.send('Page.captureScreenshot', { format: 'png', clip: { x: screen.left, y: screen.top, width: 320, height: 240, scale: 1 } });
      const webPng = join(args.out, `web-${digit}.png`);
      writeFileSync(webPng, Buffer.from(shot.data, 'base64'));
      try {
        const said = execFileSync(args.simulator, ['--png', join(args.out, `simulator-${digit}.png`), '--digit', String(digit), '--compare', webPng], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        console.log(`web: ${digit}: answer ${answer}; ${said.trim().split('\n').filter((l) => l.startsWith('compare:')).join(' ')}`);
      } catch (e) {
        identical = false;
        const error = /** @type {{ stdout?: string, stderr?: string }} */ (e);
        failures.push(`the ${digit}'s screen: ${`${error.stdout ?? ''}${error.stderr ?? ''}`.trim()}`);
      }
      await play(tab, screen, clear);
      await tab.until('mnistEdge.answer < 0', `CLEAR after the ${digit}`);
    }
    if (args['docs-screenshot']) {
      // The page as a visitor sees it (scale 2), a 7 drawn: for docs/.
      const docs = await openPage(browser, `${server.url}/`);
      await play(docs.tab, docs.screen, polls('7'));
      await docs.tab.until('mnistEdge.answer >= 0', 'an answer on the docs screenshot');
      await sleep(3 * POLL_MS);
      const page = await docs.tab.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
      writeFileSync(args['docs-screenshot'], Buffer.from(page.data, 'base64'));
      console.log(`web: wrote ${args['docs-screenshot']}`);
    }
    // Bad inputs: each must say so on the page, not leave a blank canvas.
    const badInputs = [
      { what: 'a model that fails its CRC', url: `${server.url}/?model=/test/corrupt.i8.mnef`, expect: 'CRC', beforeLoad: undefined },
      { what: 'a browser without WebAssembly', url: `${server.url}/`, expect: 'WebAssembly', beforeLoad: 'delete globalThis.WebAssembly;' },
    ];
    for (const bad of badInputs) {
      const badTab = await openTab(browser, bad.beforeLoad);
      await badTab.send('Page.navigate', { url: bad.url });
      const message = await badTab.until("document.body?.dataset.state === 'failed' && document.getElementById('message').textContent", bad.what).catch((/** @type {Error} */ e) => `(${e.message})`);
      const shown = String(message).includes(bad.expect);
      console.log(`web: ${bad.what}: ${shown ? 'says so' : 'DOES NOT say so'}: ${message}`);
      if (!shown) failures.push(`${bad.what}: the page shows ${JSON.stringify(message)}`);
      await badTab.close();
    }
    for (const failure of failures) console.error(`web: FAILED: ${failure}`);
    console.log(`web: ${recognisedCount}/10 recognised in ${browserName}, screen identical to simulator: ${identical ? 'yes' : 'no'}, wasm ${wasmBytes} B, first paint ${Math.round(firstPaintMs)} ms`);
  } finally {
    await browser.close();
    server.close();
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((e) => {
  console.error(`web: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
