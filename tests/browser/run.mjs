// The browser tests: headless Chromium on the page served by a real
// letschat-server, against another page or a gst-launch-1.0 party.
//
//   node run.mjs page-page
//   node run.mjs page-to-src|sink-to-page|two-way vp8|h264 page-first|pipeline-first
//   node run.mjs chat sink|src|both page-first|pipeline-first
//   node run.mjs sink-follows-offer vp8|h264 pipeline-first
//   node run.mjs churn vp8 pipeline-first
//
// "churn": one two-way pipeline keeps running while 20 pages in a row join
// it, call for about 3 s each way and press Hang up: every call has frames
// both ways, the pipeline never posts an ERROR, and its threads and open
// files stay bounded (a leaked webrtcbin would show in both).
// "chat": the page and examples/chat (a party with only a letschatsink, only
// a letschatsrc, or both) type to each other.
// "page-first": the page joins first, so the pipeline offers;
// "pipeline-first": the pipeline waits and answers the page's offer.
import {
  startServer, launchBrowser, openPage, startPipeline, startProgram, waitFor, waitCount,
  waitFramesDecoded, artefactPath, remoteVideoSpread, pageStatus, log, assert, runTest,
} from './harness.mjs';
import { readdirSync } from 'node:fs';

const [kind, codec = 'vp8', order = 'page-first'] = process.argv.slice(2);
const room = `t-${kind}-${codec}-${order}-${process.pid}`;
const CODEC_MIME = { vp8: 'video/VP8', h264: 'video/H264' };

async function joinPage(context, server, name, extra = '') {
  const page = await openPage(context, `${server.http}/r/${room}?name=${name}${extra}`, name);
  return page;
}

async function waitState(page, re, label) {
  await waitFor(`${label}: state ${re}`, async () => re.test((await pageStatus(page)).state), 30000);
}

async function chatBetweenPages(a, b) {
  for (const [from, to, text] of [[a, b, 'hello from A, ünïcode ✓'], [b, a, 'and back from B']]) {
    await waitFor('chat channel open', () => from.evaluate(() => window.letschat.call.dc?.readyState === 'open'), 30000);
    assert(await from.evaluate((t) => window.letschat.sendChat(t), text), 'sendChat refused ' + text);
    await waitFor(`chat "${text}" to arrive`, () => to.evaluate((t) => window.letschat.received.includes(t), text), 30000);
    // The other party's panel shows it, as a person would read it.
    await waitFor('message shown', () => to.locator('#messages li.them', { hasText: text }).count(), 5000);
  }
}

function sinkLine(server, videoCodec = codec) {
  const choice = videoCodec ? `video-codec=${videoCodec} ` : '';
  return `videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! ` +
    `letschatsink name=s room=${room} server-url=${server.ws} ${choice}display-name=pipeline ` +
    `audiotestsrc is-live=true wave=ticks ! s.`;
}
function srcLine(server) {
  return `letschatsrc name=r room=${room} server-url=${server.ws} ` +
    `r. ! video/x-raw ! fakesink name=count sync=false silent=false ` +
    `r. ! audio/x-raw ! fakesink sync=false`;
}

async function pageAndPipeline(context, server, description, label) {
  // ?codec= makes the page put that codec first, so that the codec under test
  // is used whichever side offers.
  let page, party;
  if (order === 'page-first') {
    page = await joinPage(context, server, 'page', `&codec=${codec}`);
    await waitState(page, /Waiting for the other party/, 'page');
    party = startPipeline(label, description);
  } else {
    party = startPipeline(label, description);
    await waitFor('the pipeline to join', () => party.lines.some((l) => l.includes('letschat/joined')), 30000);
    page = await joinPage(context, server, 'page', `&codec=${codec}`);
  }
  return { page, party };
}

// The party of a chat test: examples/chat, its "party" element being a
// letschatsink, a letschatsrc, or both in one pipeline (codec names which).
function startChatParty(server) {
  const at = `room=${room} server-url=${server.ws}`;
  const video = 'videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1';
  const listen = 'party. ! fakesink party. ! fakesink';
  const desc = {
    sink: `${video} ! letschatsink name=party ${at}`,
    src: `letschatsrc name=party ${at} ${listen}`,
    both: `${video} ! letschatsink name=s ${at} letschatsrc name=party ${at} ${listen}`,
  }[codec];
  return startProgram(`chat-${codec}`, process.env.LETSCHAT_CHAT || 'build/examples/chat',
    ['--name', 'pipeline', '--pipeline', desc], { stdin: true });
}

async function chatPageAndPipeline(context, server) {
  let page, party;
  if (order === 'page-first') {
    page = await joinPage(context, server, 'page');
    await waitState(page, /Waiting for the other party/, 'page');
    party = startChatParty(server);
  } else {
    party = startChatParty(server);
    await waitFor('the pipeline to join', () => party.lines.some((l) => l.startsWith('joined room')), 30000);
    page = await joinPage(context, server, 'page');
  }
  await waitFor('the page\'s chat to open', () => page.evaluate(() => window.letschat.call.dc?.readyState === 'open'), 60000);
  // Page to pipeline: printed by examples/chat with the page's display name.
  const fromPage = 'hello from the page, ünïcode ✓';
  assert(await page.evaluate((t) => window.letschat.sendChat(t), fromPage), 'the page refused to send');
  await waitFor('the pipeline to print the page\'s message',
    () => party.lines.includes(`chat: page: ${fromPage}`), 30000);
  // Pipeline to page: a line on examples/chat's stdin, shown in the panel.
  const fromPipeline = 'hello from the pipeline ✓';
  party.proc.stdin.write(fromPipeline + '\n');
  await waitFor('the page to receive the pipeline\'s message',
    () => page.evaluate((t) => window.letschat.received.includes(t), fromPipeline), 30000);
  await waitFor('message shown', () => page.locator('#messages li.them', { hasText: fromPipeline }).count(), 5000);
  // Over-long text from the other side: ignored, with a warning that says so.
  await page.evaluate(() => window.letschat.call.dc.send('x'.repeat(5000)));
  await waitFor('the pipeline to warn about the long message',
    () => party.errors.join('').includes('Ignored a chat message from the other party: it is 5000 bytes long'), 30000);
  // And the chat goes on.
  assert(await page.evaluate(() => window.letschat.sendChat('still here')), 'the page refused to send');
  await waitFor('the chat to go on', () => party.lines.includes('chat: page: still here'), 30000);
  const shot = artefactPath(`chat-${codec}-${order}.png`);
  await page.screenshot({ path: shot });
  log(`screenshot ${shot}`);
}

async function checkRemoteVideo(page, label, party) {
  const stats = await waitFramesDecoded(page, label, 60, 90000, party);
  assert(stats.codec === CODEC_MIME[codec], `${label}: decoded ${stats.codec}, expected ${CODEC_MIME[codec]}`);
  const spread = await remoteVideoSpread(page);
  const shot = artefactPath(`${kind}-${codec}-${order}.png`);
  await page.screenshot({ path: shot });
  log(`${label}: screenshot ${shot}, remote video luma spread ${spread}`);
  assert(spread > 40, `${label}: the remote video looks blank (luma spread ${spread})`);
}

// Loss recovery and congestion control negotiated both ways: the page's
// video m-line, in what it sent and what letschat sent back, has generic
// NACK, an RTX format, transport-cc feedback and the transport-wide
// sequence number extension (issue 13).
async function checkLossRecoveryNegotiated(page) {
  const sdps = await page.evaluate(() => ({
    local: window.letschat.call.pc.localDescription.sdp,
    remote: window.letschat.call.pc.remoteDescription.sdp,
  }));
  const offerer = order === 'page-first' ? 'remote' : 'local';
  for (const [side, sdp] of Object.entries(sdps)) {
    const who = `${side === offerer ? 'offer' : 'answer'} (${side === 'local' ? 'Chromium' : 'letschat'})`;
    const video = sdp.split(/\r\n(?=m=)/).find((m) => m.startsWith('m=video'));
    assert(video, `${who}: no video m-line`);
    for (const [what, re] of [['generic NACK', /a=rtcp-fb:\d+ nack\r\n/],
      ['an RTX format', /a=rtpmap:\d+ rtx\/90000/], ['transport-cc feedback', /a=rtcp-fb:\d+ transport-cc/],
      ['the transport-wide-cc extension', /a=extmap:\d+ \S*transport-wide-cc-extensions-01/]])
      assert(re.test(video), `${who}: the video m-line has no ${what}`);
  }
  log('NACK, RTX, transport-cc and its extension in the offer and the answer');
}

function countEntries(dir) {
  try { return readdirSync(dir).length; } catch { return -1; }
}

const CHURN_CALLS = 20;

async function churn(context, server) {
  const party = startPipeline('two-way', `${sinkLine(server)} ${srcLine(server)}`);
  await waitFor('the pipeline to join', () => party.lines.some((l) => l.includes('letschat/joined')), 30000);
  const pid = party.proc.pid;
  const usage = [];
  for (let i = 1; i <= CHURN_CALLS; i++) {
    const started = Date.now();
    const before = party.counts.count || 0;
    const page = await joinPage(context, server, `page${i}`);
    await waitFramesDecoded(page, `call ${i}: page`, 20, 30000, party);
    await waitFor(`call ${i}: 20 new buffers at the pipeline`, () => {
      if (party.exited !== null) throw new Error(`call ${i}: the pipeline exited (${party.exited})`);
      return (party.counts.count || 0) - before >= 20;
    }, 30000);
    const rest = 3000 - (Date.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    await page.click('#hangup');
    await waitFor(`call ${i}: the pipeline to see the page leave`,
      () => party.lines.filter((l) => l.includes('letschat/peer-left')).length >= i, 15000);
    await page.close();
    const errors = party.lines.filter((l) => /^ERROR/.test(l));
    assert(errors.length === 0, `call ${i}: the pipeline posted ${errors[0]}`);
    assert(party.exited === null, `call ${i}: the pipeline exited (${party.exited})`);
    usage.push({ threads: countEntries(`/proc/${pid}/task`), fds: countEntries(`/proc/${pid}/fd`) });
    log(`call ${i}: ${Date.now() - started} ms, pipeline threads ${usage.at(-1).threads}, open files ${usage.at(-1).fds}`);
  }
  // Teardowns finish on their own threads: give the last one a moment,
  // then compare with the calls after warm-up (the first allocates caches).
  await new Promise((r) => setTimeout(r, 1000));
  const end = { threads: countEntries(`/proc/${pid}/task`), fds: countEntries(`/proc/${pid}/fd`) };
  const warm = usage[4];
  log(`after ${CHURN_CALLS} calls: threads ${end.threads} (call 5: ${warm.threads}), open files ${end.fds} (call 5: ${warm.fds})`);
  assert(end.threads <= warm.threads + 8, `threads grew from ${warm.threads} to ${end.threads} over ${CHURN_CALLS} calls`);
  assert(end.fds <= warm.fds + 16, `open files grew from ${warm.fds} to ${end.fds} over ${CHURN_CALLS} calls`);
}

async function main() {
  const server = await startServer();
  const context = await launchBrowser();

  if (kind === 'page-page') {
    const a = await joinPage(context, server, 'A');
    await waitState(a, /Waiting for the other party/, 'A');
    const b = await joinPage(context, server, 'B');
    await waitFramesDecoded(a, 'A');
    await waitFramesDecoded(b, 'B');
    await chatBetweenPages(a, b);
    await b.click('#hangup');
    await waitState(a, /The other party left/, 'A');
  } else if (kind === 'page-to-src') {
    const { page, party } = await pageAndPipeline(context, server, srcLine(server), 'src');
    await waitCount(party, 'count', 60, 'src');
    const stats = await page.evaluate(() => window.letschat.stats());
    assert(stats.sendCodec === CODEC_MIME[codec], `page sent ${stats.sendCodec}, expected ${CODEC_MIME[codec]}`);
  } else if (kind === 'sink-to-page') {
    const { page, party } = await pageAndPipeline(context, server, sinkLine(server), 'sink');
    await checkRemoteVideo(page, 'page', party);
  } else if (kind === 'two-way') {
    const { page, party } = await pageAndPipeline(context, server,
      `${sinkLine(server)} ${srcLine(server)}`, 'two-way');
    await checkRemoteVideo(page, 'page', party);
    await waitCount(party, 'count', 60, 'pipeline');
    await checkLossRecoveryNegotiated(page);
    const stats = await page.evaluate(() => window.letschat.stats());
    assert(stats.sendCodec === CODEC_MIME[codec], `page sent ${stats.sendCodec}, expected ${CODEC_MIME[codec]}`);
  } else if (kind === 'sink-follows-offer') {
    // A letschatsink left at its default codec answers the page's offer,
    // which prefers the codec under test: it encodes that one.
    assert(order === 'pipeline-first', 'the page must offer: run it pipeline-first');
    const { page, party } = await pageAndPipeline(context, server, sinkLine(server, null), 'sink');
    await checkRemoteVideo(page, 'page', party);
  } else if (kind === 'chat') {
    await chatPageAndPipeline(context, server);
  } else if (kind === 'churn') {
    await churn(context, server);
  } else {
    throw new Error('unknown test ' + kind);
  }
}

await runTest(main, kind === 'churn' ? 280 : 150);
