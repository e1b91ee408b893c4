// Chromium sending to letschat adapts on letschat's feedback (issue 13):
// run by browser-congestion.sh inside the sender's network namespace.
//
//   node browser-send.mjs HTTP_URL ROOM DEVICE
//
// The page (the server's own, fake camera) calls the letschatsrc waiting in
// ROOM. Chromium's congestion control (GCC) starts low and raises its rate
// only on the receiver's transport-wide feedback, so its video first has
// to climb over 600 kbit/s: letschat's feedback reached it. Then DEVICE's
// egress is limited to 500 kbit/s (tc tbf) and its video has to fall under
// 500 kbit/s, as getStats reports it. Waits on those figures (at most 60 s
// each), never on a fixed time.
import { execFileSync } from 'node:child_process';
import { launchBrowser, openPage, waitFor, log, runTest } from '../browser/harness.mjs';

const [http, room, device] = process.argv.slice(2);
const LINK = 500000;
const RAMPED = 600000;

// Video bit/s Chromium sends (outbound-rtp over the last second) and what
// its congestion control estimates (availableOutgoingBitrate).
async function sample(page) {
  return page.evaluate(async () => {
    const pc = window.letschat.call.pc;
    if (!pc) return null;
    const report = await pc.getStats();
    let bytes = 0, estimate = 0;
    report.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') bytes += s.bytesSent;
      if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate)
        estimate = s.availableOutgoingBitrate;
    });
    return { bytes, estimate, at: performance.now() };
  });
}

async function main() {
  const context = await launchBrowser({
    args: [`--unsafely-treat-insecure-origin-as-secure=${new URL(http).origin}`],
  });
  const page = await openPage(context, `${http}/r/${room}?name=page`, 'page');
  await waitFor('the call to connect',
    () => page.evaluate(() => window.letschat.call.pc?.connectionState === 'connected'), 60000);

  const history = [];
  // bit/s over about the last second, once two samples are in.
  const rate = async () => {
    const s = await sample(page);
    if (!s) return null;
    history.push(s);
    const before = history.findLast((h) => s.at - h.at >= 900);
    if (!before) return null;
    const bitrate = ((s.bytes - before.bytes) * 8 * 1000) / (s.at - before.at);
    log(`video sent ${Math.round(bitrate / 1000)} kbit/s, estimate ${Math.round(s.estimate / 1000)} kbit/s`);
    return { bitrate, estimate: s.estimate };
  };

  await waitFor(`Chromium to send over ${RAMPED / 1000} kbit/s on letschat's feedback`, async () => {
    const r = await rate();
    return r && r.bitrate > RAMPED;
  }, 60000, 500);

  execFileSync('tc', ['qdisc', 'add', 'dev', device, 'root', 'tbf', 'rate', `${LINK / 1000}kbit`,
    'burst', '32kbit', 'latency', '400ms']);
  log(`the page's link limited to ${LINK / 1000} kbit/s`);
  history.length = 0;
  let last;
  await waitFor(`Chromium's video to fall under the ${LINK / 1000} kbit/s link`, async () => {
    last = await rate();
    return last && last.bitrate < LINK && last.estimate > 0 && last.estimate < LINK;
  }, 60000, 500);
  log(`Chromium adapted: ${Math.round(last.bitrate / 1000)} kbit/s sent, ` +
    `estimate ${Math.round(last.estimate / 1000)} kbit/s`);
}

await runTest(main, 200);
