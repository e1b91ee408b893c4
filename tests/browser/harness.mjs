// Shared parts of the browser tests: a real letschat-server, headless Debian
// Chromium with its fake camera and microphone (shared/BROWSER-TESTING.md),
// and gst-launch-1.0 parties using the uninstalled plugin.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.LETSCHAT_CHROMIUM || '/usr/lib/chromium/chromium';
// Test artefacts (screenshots) go to the build directory.
export const ARTEFACTS = process.env.LETSCHAT_ARTEFACTS || join(process.cwd(), 'browser-artefacts');

const cleanups = [];
export function onCleanup(fn) { cleanups.push(fn); }
export async function cleanup() {
  while (cleanups.length) {
    try { await cleanups.pop()(); } catch (e) { console.error('cleanup:', e.message); }
  }
}

export function log(...args) { console.log(new Date().toISOString().slice(11, 23), ...args); }

export async function waitFor(what, fn, timeoutMs = 60000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// The real letschat-server binary on a free port; @args are more of its
// options (tests/interop: --allowed-origin for a page of another origin).
// server.kill(signal) (SIGKILL: a crash; SIGINT: a shutdown) and
// server.launch() start it again on the same port, as an operator would.
// @port: one taken from freePort() beforehand (nodes of a cluster are told
// each other's URLs before they start); a free one by default.
export async function startServer(args = [], { port: chosenPort } = {}) {
  const bin = process.env.LETSCHAT_SERVER;
  if (!bin || !existsSync(bin)) throw new Error('LETSCHAT_SERVER does not name the letschat-server binary');
  const port = chosenPort ?? await freePort();
  const http = `http://127.0.0.1:${port}`;
  const server = { port, http, ws: `ws://127.0.0.1:${port}/ws`, proc: null };
  const launch = async () => {
    const proc = spawn(bin, ['--port', String(port), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    server.proc = proc;
    onCleanup(() => stop(proc));
    await waitFor('letschat-server to listen', async () => {
      if (proc.exitCode !== null) throw new Error('letschat-server exited with ' + proc.exitCode);
      try { return (await fetch(http + '/')).ok; } catch { return false; }
    }, 20000, 100);
  };
  server.kill = (signal = 'SIGKILL') => new Promise((resolve) => {
    const old = server.proc;
    if (old.exitCode !== null || old.signalCode) return resolve();
    old.once('exit', resolve);
    old.kill(signal);
  });
  server.launch = launch;
  server.restart = async (signal) => { await server.kill(signal); await launch(); };
  await launch();
  return server;
}

function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => { clearTimeout(t); resolve(); });
    proc.kill('SIGINT');
  });
}

// A missing browser is a failure, never a skip.
// @viewport: the window's size; @fakeDevices: the fake camera's options
// (device-count=2 gives two cameras); @args: more switches.
export async function launchBrowser({ viewport = { width: 1000, height: 700 }, fakeDevices = 'fps=30', args = [] } = {}) {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package "chromium" ` +
      '(./scripts/check does)');
  const dir = mkdtempSync(join(tmpdir(), 'letschat-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--use-fake-device-for-media-stream=${fakeDevices}`, '--use-fake-ui-for-media-stream', ...args],
  });
  onCleanup(async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); });
  return context;
}

export async function openPage(context, url, label) {
  const page = await context.newPage();
  page.on('console', (m) => log(`[${label} console] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log(`[${label} page error] ${e.message}`));
  await page.goto(url);
  return page;
}

// What the page shows as the call state and error, for failure messages.
export async function pageStatus(page) {
  return page.evaluate(() => ({
    state: document.getElementById('state').textContent,
    error: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent,
  }));
}

export function assert(cond, msg) { if (!cond) throw new Error(msg); }

// Waits for the page's call state to match @re; the failure says what the
// page shows.
export async function waitState(page, re, label, timeoutMs = 30000) {
  try {
    await waitFor(`${label}: state ${re}`, async () => re.test((await pageStatus(page)).state), timeoutMs);
  } catch (e) {
    throw new Error(`${e.message}; page ${JSON.stringify(await pageStatus(page))}`);
  }
}

// Frames the remote <video> element presented (requestVideoFrameCallback):
// what a person sees move, not only what was decoded.
export const remoteFrames = (page) => page.evaluate(() => window.letschat.remoteFrames);

// Runs a test's @main: PASS, or FAIL with its error (exit status 1), and
// whatever it started cleaned up either way; a test that takes over
// @seconds fails at once.
export async function runTest(main, seconds) {
  const guard = setTimeout(() => { console.error(`FAIL: the whole test took over ${seconds} s`); process.exit(1); }, seconds * 1000);
  try {
    await main();
    log('PASS');
  } catch (e) {
    console.error('FAIL:', e.message);
    process.exitCode = 1;
  } finally {
    await cleanup();
    clearTimeout(guard);
  }
}

// @party: the gst-launch-1.0 party sending, if any: its exit fails at once.
export async function waitFramesDecoded(page, label, n = 60, timeoutMs = 90000, party = null) {
  let stats;
  try {
    await waitFor(`${label}: ${n} video frames decoded`, async () => {
      if (party && party.exited !== null) throw new Error(`the pipeline exited (${party.exited})`);
      stats = await page.evaluate(() => window.letschat.stats());
      return stats.framesDecoded >= n;
    }, timeoutMs, 500);
  } catch (e) {
    throw new Error(`${e.message}; last stats ${JSON.stringify(stats)}; page ${JSON.stringify(await pageStatus(page))}`);
  }
  log(`${label}: stats ${JSON.stringify(stats)}`);
  return stats;
}

// A gst-launch-1.0 party. Counts the buffers reaching fakesinks named
// "count*" (their last-message lines under -v) and keeps -m messages.
export function startPipeline(label, description) {
  const args = ['-m', '-v', ...description.split(/\s+/).filter(Boolean)];
  return startProgram(label, 'gst-launch-1.0', args);
}

// Any party program; with stdin: true, party.proc.stdin takes its input
// (examples/chat reads chat lines there).
export function startProgram(label, command, args, { stdin = false } = {}) {
  const proc = spawn(command, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const party = { proc, counts: {}, lines: [], errors: [], exited: null };
  onCleanup(() => stop(proc));
  let rest = '';
  proc.stdout.on('data', (d) => {
    const text = rest + d.toString();
    const lines = text.split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const m = line.match(/GstFakeSink:(count\w*): last-message = chain/);
      if (m) { party.counts[m[1]] = (party.counts[m[1]] || 0) + 1; continue; }
      if (/last-message|caps = /.test(line)) continue;
      party.lines.push(line);
      log(`[${label}] ${line}`);
    }
  });
  proc.stderr.on('data', (d) => {
    party.errors.push(d.toString());
    log(`[${label} stderr] ${d.toString().trimEnd()}`);
  });
  proc.on('exit', (code, sig) => { party.exited = code ?? sig; log(`[${label}] exited ${party.exited}`); });
  return party;
}

export async function waitCount(party, sink, n, label, timeoutMs = 90000) {
  await waitFor(`${label}: ${n} buffers at ${sink}`, () => {
    if (party.exited !== null) throw new Error(`${label}: gst-launch-1.0 exited (${party.exited}) with ${party.counts[sink] || 0} buffers at ${sink}`);
    return (party.counts[sink] || 0) >= n;
  }, timeoutMs, 250);
  log(`${label}: ${party.counts[sink]} buffers at ${sink}`);
}

export function artefactPath(name) {
  mkdirSync(ARTEFACTS, { recursive: true });
  return join(ARTEFACTS, name);
}

// Draws the remote video into a canvas and measures how much it varies: a
// blank (black, or one flat colour) frame has almost no spread.
export async function remoteVideoSpread(page) {
  return page.evaluate(() => {
    const v = document.getElementById('remote');
    if (!v.videoWidth) return 0;
    const c = document.createElement('canvas');
    c.width = 64; c.height = 48;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let min = 255, max = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = (d[i] * 3 + d[i + 1] * 6 + d[i + 2]) / 10;
      min = Math.min(min, y); max = Math.max(max, y);
    }
    return max - min;
  });
}
