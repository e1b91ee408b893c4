// An interop party in headless Debian Chromium: a plain page of its own
// (plain-page.html, written from docs/protocol.md, not the letschat web
// client) served from 127.0.0.1, driven through playwright-core. The command
// line, stdout and stdin are the contract in party-cli.mjs.
//
//   node tests/interop/chromium-party.mjs --url ws://127.0.0.1:PORT/ws --room R \
//     --codec vp8|h264 --send 0|1 --recv 0|1 [--name NAME] [--bundle none]
// (--bundle none: its offers carry no BUNDLE group, one transport per m-line)
//
// The page is of another origin than the room server, which refuses such
// WebSocket handshakes unless started with --allowed-origin (e.g. '*').
// --send 1 uses Chromium's fake camera and microphone.
import { createServer } from 'node:http';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { launchBrowser, cleanup, onCleanup } from '../browser/harness.mjs';
import { parseArgs, emit, note, onHangup, onSigterm } from './party-cli.mjs';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), 'chromium');
} catch (e) {
  console.error(e.message);
  process.exit(2);
}

// SIGTERM must look like a crash to the other party: no close_notify, no
// WebSocket close frame. Chromium shuts down tidily when its driver goes
// (and its network process says goodbye when the browser process dies), so
// every process under this one (Chromium's, all started from here) is
// killed outright, and the browser's temporary profile removed.
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0; // gone meanwhile
  }
}
function descendants() {
  const parents = new Map();
  for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) parents.set(Number(name), parentOf(name));
  const found = [process.pid];
  for (let i = 0; i < found.length; i++)
    for (const [pid, ppid] of parents) if (ppid === found[i]) found.push(pid);
  return found.slice(1);
}
onSigterm(() => {
  const pids = descendants();
  let profile = null;
  for (const pid of pids) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      profile ??= args.find((a) => a.startsWith('--user-data-dir='))?.slice('--user-data-dir='.length);
    } catch { /* gone meanwhile */ }
  }
  // All stopped first: a network process that outlived its browser by a
  // moment would close the WebSocket properly (1001).
  for (const signal of ['SIGSTOP', 'SIGKILL']) {
    for (const pid of pids) {
      try { process.kill(pid, signal); } catch { /* gone meanwhile */ }
    }
  }
  if (profile) { try { rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ } }
});

async function finish(code) {
  await cleanup();
  process.exit(code);
}

// The page, from a server of this program's own on a free port.
const pageHtml = readFileSync(new URL('./plain-page.html', import.meta.url));
const http = createServer((req, res) => {
  if (new URL(req.url, 'http://x').pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(pageHtml);
  } else {
    res.writeHead(404);
    res.end();
  }
});
http.listen(0, '127.0.0.1');
await once(http, 'listening');
onCleanup(() => new Promise((r) => http.close(r)));

let hangingUp = false, page = null, started = null;
// Registered first: a hang-up (or the end of stdin) may come at any time,
// also while Chromium is still starting.
onHangup(async () => {
  hangingUp = true;
  try {
    await started; // a browser being launched is closed properly afterwards
    if (page) await page.evaluate(() => window.hangup());
  } catch (e) {
    emit(`error hangup: ${e.message}`.replace(/\s*\n\s*/g, ' '));
  }
  emit('hungup');
  await finish(0);
});

started = (async () => {
  const context = await launchBrowser();
  page = await context.newPage();
  await page.exposeFunction('partyEvent', (line) => emit(line));
  await page.exposeFunction('partyFatal', async (text) => {
    if (hangingUp) return;
    emit(`error ${text}`);
    await finish(1);
  });
  // The page's own log (SDPs, candidates refused) is diagnostics: stderr.
  page.on('console', (m) => note(`[page ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => emit(`error page: ${e.message}`.replace(/\s*\n\s*/g, ' ')));
  page.on('crash', () => { emit('error page crashed'); finish(1); });

  const query = new URLSearchParams({
    url: opts.url, room: opts.room, codec: opts.codec,
    send: opts.send ? '1' : '0', recv: opts.recv ? '1' : '0', name: opts.name,
    bundle: opts.bundle || 'default',
  });
  await page.goto(`http://127.0.0.1:${http.address().port}/?${query}`);
})().catch(async (e) => {
  if (hangingUp) return; // the hang-up finishes
  emit(`error ${e.message}`.replace(/\s*\n\s*/g, ' '));
  await finish(1);
});
