// The command line, stdout and stdin contract every interop party program
// follows (the aiortc party follows it in Python):
//
//   <party> --url ws://127.0.0.1:PORT/ws --room ROOM --codec vp8|h264
//           --send 0|1 --recv 0|1 [--name NAME]
//
// stdout: one event per line (joined, peer, offering/answering, connection,
// recv-frames, recv-codec, error, hungup). stdin: "hangup" or EOF closes the
// call and the WebSocket; SIGTERM exits at once, closing nothing.
import { createInterface } from 'node:readline';

export function parseArgs(argv, defaultName) {
  const usage = 'usage: --url ws://HOST:PORT/ws --room ROOM --codec vp8|h264 --send 0|1 --recv 0|1 [--name NAME]';
  const opts = { name: defaultName };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i], value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) throw new Error(usage);
    opts[key.slice(2)] = value;
  }
  for (const k of ['url', 'room', 'codec', 'send', 'recv'])
    if (opts[k] === undefined) throw new Error(`missing --${k}; ${usage}`);
  if (!['vp8', 'h264'].includes(opts.codec)) throw new Error(`--codec must be vp8 or h264; ${usage}`);
  for (const k of ['send', 'recv']) {
    if (!['0', '1'].includes(opts[k])) throw new Error(`--${k} must be 0 or 1; ${usage}`);
    opts[k] = opts[k] === '1';
  }
  return opts;
}

// process.stdout is synchronous for pipes and files on Linux, so every
// event is out as soon as this returns (the runner reads lines as they come).
export function emit(line) {
  process.stdout.write(line + '\n');
}

// Diagnostics that are not events (SDPs, stack logs) go to stderr.
export function note(...args) {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${args.join(' ')}\n`);
}

// fn runs once, on a "hangup" line or at the end of stdin.
export function onHangup(fn) {
  let done = false;
  const once = () => { if (!done) { done = true; fn(); } };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'hangup') once();
    else if (line.trim()) note('stdin: ignored', JSON.stringify(line));
  });
  rl.on('close', once);
}

// SIGTERM: exit at once, closing neither the peer connection nor the
// WebSocket (the other party must find out by itself). Only the helper
// processes this party started are stopped, or they would outlive it. Then
// exit with the status of a process killed by the signal (128 + number),
// without running anybody else's handler: playwright-core's would close
// Chromium gracefully and keep the process alive. SIGINT and SIGHUP (a
// runner's cleanup, a closed terminal) end the party the same way.
export function onSigterm(stopChildren) {
  for (const [signal, number] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]]) {
    process.prependListener(signal, () => {
      try { stopChildren(); } catch { /* exiting anyway */ }
      process.exit(128 + number);
    });
  }
}
