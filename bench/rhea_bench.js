#!/usr/bin/env node
// rhea's side of bench/peer_compare.py: the same workloads as the Python clients there, against
// interop/rhea/listener.js, printing one JSON object.
//
//   rhea_bench.js URL COUNT CALLS WINDOW
//
// throughput: a receiver (prefetch 1000, accepting) and a sender on one queue; COUNT messages,
// at most WINDOW unsettled (at-least-once) or pre-settled (at-most-once); timed from the first
// send until all arrived (and all outcomes are back), with the process's CPU time per message
// (alo-cpu-us, amo-cpu-us: sender and receiver together). request/reply: a dynamic reply queue,
// 50 warm-up calls, then CALLS requests to "echo", one at a time.
'use strict';

const rhea = require('../interop/rhea/node_modules/rhea');

const [url, countText, callsText, windowText] = process.argv.slice(2);
const count = Number(countText);
const calls = Number(callsText);
const window = Number(windowText);
const WARMUP = 50;
const { hostname, port } = new URL(url);

function connect(id) {
  const container = rhea.create_container({ id });
  return container.connect({ host: hostname, port: Number(port), reconnect: false, username: 'anonymous' });
}

function throughput(presettled) {
  return new Promise((resolve, reject) => {
    const connection = connect(`rhea-bench-${presettled ? 'amo' : 'alo'}`);
    const address = `bench-${presettled ? 'amo' : 'alo'}-${process.pid}`;
    const settle = presettled ? { snd_settle_mode: 1 } : {};
    connection.open_receiver(Object.assign({ source: { address }, credit_window: 1000, autoaccept: true }, settle));
    const sender = connection.open_sender(Object.assign({ target: { address } }, settle));
    let sent = 0;
    let confirmed = 0;
    let received = 0;
    let started = 0;
    let cpu = null;
    let done = false;
    function pump() {
      if (!started) { started = process.hrtime.bigint(); cpu = process.cpuUsage(); }
      while (sender.sendable() && sent < count && (presettled || sent - confirmed < window)) {
        sender.send({ body: `message-${sent}` });
        sent++;
      }
    }
    function check() {
      if (!done && received === count && (presettled || confirmed === count)) {
        done = true;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const used = process.cpuUsage(cpu);
        connection.close();
        connection.once('connection_close', () => resolve([count / seconds, (used.user + used.system) / count]));
      }
    }
    connection.on('sendable', pump);
    connection.on('accepted', () => { confirmed++; check(); pump(); });
    connection.on('message', (context) => {
      // rhea keeps a received delivery in its session buffer (2048 by default) until it is
      // settled here, even one the sender pre-settled: settle it, or the flow stops.
      if (presettled) context.delivery.update(true);
      received++;
      check();
    });
    connection.on('error', reject);
    connection.on('disconnected', (context) => { if (!done) reject(context.error || new Error('disconnected')); });
  });
}

function requestReply() {
  return new Promise((resolve, reject) => {
    const connection = connect('rhea-bench-rr');
    const sender = connection.open_sender({ target: { address: 'echo' } });
    const replies = connection.open_receiver({ source: { dynamic: true }, credit_window: 10 });
    const samples = [];
    let done = 0;
    let started = 0n;
    let replyTo = null;
    function request() {
      started = process.hrtime.bigint();
      sender.send({ message_id: `r${done}`, reply_to: replyTo, body: `request-${done}` });
    }
    connection.on('receiver_open', (context) => {
      if (context.receiver !== replies) return;
      replyTo = replies.remote.attach.source.address;
      request(); // rhea holds it until the sender has credit
    });
    connection.on('message', () => {
      if (done >= WARMUP) samples.push(Number(process.hrtime.bigint() - started) / 1e9);
      done++;
      if (done < WARMUP + calls) request();
      else {
        connection.close();
        connection.once('connection_close', () => {
          samples.sort((a, b) => a - b);
          const median = samples.length % 2
            ? samples[(samples.length - 1) / 2]
            : (samples[samples.length / 2 - 1] + samples[samples.length / 2]) / 2;
          const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
          resolve({ median_ms: median * 1000, mean_ms: mean * 1000, p99_ms: samples[Math.floor(samples.length * 0.99) - 1] * 1000 });
        });
      }
    });
    connection.on('error', reject);
  });
}

async function main() {
  const result = {};
  [result['at-least-once'], result['alo-cpu-us']] = await throughput(false);
  [result['at-most-once'], result['amo-cpu-us']] = await throughput(true);
  result['request-reply'] = await requestReply();
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((error) => { process.stderr.write(`${error.stack || error}\n`); process.exit(1); });
