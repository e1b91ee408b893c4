// The page on a cluster of room servers (docs/web-client.md, "Clusters"):
// two independent letschat-server processes S1 and S2 (no Redis: each
// party simply rejoins wherever it lands), both started with
// --cluster-url S1,S2. The page served by S1 and a two-way gst-launch-1.0
// party (server-url=S1,S2) are in a call through S1; S1 is killed
// (SIGKILL): the page and the pipeline move to S2 as the same parties, and
// the call (the same peer connection) keeps playing both ways.
//
//   node failover.mjs
import {
  startServer, freePort, launchBrowser, openPage, startPipeline, waitFor, waitCount,
  waitFramesDecoded, pageStatus, log, assert, waitState, remoteFrames, runTest,
} from './harness.mjs';

const room = `failover-${process.pid}`;

async function main() {
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((p) => `ws://127.0.0.1:${p}/ws`);
  const cluster = ['--cluster-url', urls.join(',')];
  const s1 = await startServer(cluster, { port: ports[0] });
  const s2 = await startServer(cluster, { port: ports[1] });
  const listed = await (await fetch(s1.http + '/cluster.json')).json();
  assert(JSON.stringify(listed.servers) === JSON.stringify(urls),
    `S1's /cluster.json lists ${JSON.stringify(listed)}, expected ${JSON.stringify(urls)}`);

  const at = `room=${room} server-url=${urls.join(',')}`;
  const party = startPipeline('pipeline',
    `videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! ` +
    `letschatsink name=s ${at} display-name=pipeline audiotestsrc is-live=true wave=ticks ! s. ` +
    `letschatsrc name=r ${at} r. ! video/x-raw ! fakesink name=count sync=false silent=false ` +
    `r. ! audio/x-raw ! fakesink sync=false`);
  await waitFor('the pipeline to join', () => party.lines.some((l) => l.includes('letschat/joined')), 30000);
  assert(party.lines.some((l) => l.includes('letschat/joined') && l.includes(s1.ws)),
    'the pipeline did not join through S1, the first URL of its list');

  const context = await launchBrowser();
  const page = await openPage(context, `${s1.http}/r/${room}?name=A`, 'A');
  await waitFramesDecoded(page, 'A', 30, 90000, party);
  await waitCount(party, 'count', 30, 'pipeline');
  assert(await page.evaluate(() => window.letschat.server) === s1.ws, 'the page is not on S1');
  assert(JSON.stringify(await page.evaluate(() => window.letschat.servers.list)) === JSON.stringify(urls),
    'the page did not read the cluster\'s nodes');
  await page.evaluate(() => { window.letschat.call.pc.testMark = 'before the failover'; });

  log('killing S1');
  const killedAt = Date.now();
  await s1.kill('SIGKILL');
  const beforeCount = party.counts.count || 0;
  await waitFor('the page to rejoin through S2', () => page.evaluate(
    (s2ws) => window.letschat.reconnections >= 1 && window.letschat.server === s2ws && window.letschat.call.joined,
    s2.ws), 30000);
  await waitFor('the pipeline to rejoin through S2', () => party.lines.some(
    (l) => l.includes('letschat/server-reconnected') && l.includes(s2.ws)), 30000);
  log(`page and pipeline back in the room through S2 ${Date.now() - killedAt} ms after the kill`);
  await waitState(page, /^Connected with pipeline\.$/, 'A');

  // The same call goes on, both ways.
  assert(await page.evaluate(() => window.letschat.call.pc?.testMark === 'before the failover'),
    'the page negotiated its call anew instead of keeping it');
  await page.bringToFront();
  const from = await remoteFrames(page);
  await waitFor('the page to show 60 more frames', async () => (await remoteFrames(page)) - from >= 60, 30000);
  await waitFor('the pipeline to receive 60 more frames', () => (party.counts.count || 0) - beforeCount >= 60, 30000);
  assert(!party.lines.some((l) => /^ERROR/.test(l)), 'the pipeline posted an ERROR');
  assert(!party.lines.some((l) => l.includes('letschat/call-reset')), 'the pipeline reset its call');
  const { error } = await pageStatus(page);
  assert(!error, `the page shows an error: ${error}`);

  // S2 relays as S1 did: a hang-up reaches the pipeline.
  await page.click('#hangup');
  await waitFor('the pipeline to see the page leave', () => party.lines.some((l) => l.includes('letschat/peer-left')), 15000);
}

await runTest(main, 150);
