#!/usr/bin/env node
// rhea's side of bench/large_message.py: receive one message, or send one SIZE-byte message.
//
//   rhea_large.js URL ADDRESS receive      prints "ready", then {"received_ns", "size", "peak_growth"}
//   rhea_large.js URL ADDRESS send SIZE    prints {"sent_ns"} once the message is accepted
//
// Times are process.hrtime (CLOCK_MONOTONIC, as Python's time.monotonic_ns); peak_growth is
// the peak RSS (resourceUsage().maxRSS) after the message less the RSS just before it.
'use strict';

const crypto = require('crypto');
const rhea = require('../interop/rhea/node_modules/rhea');

const [url, address, role, sizeText] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const connection = rhea.create_container({ id: `rhea-large-${role}` })
  .connect({ host: hostname, port: Number(port), reconnect: false, username: 'anonymous' });
const bail = setTimeout(() => { process.stderr.write('timed out\n'); process.exit(1); }, 120000);

function finish(result) {
  clearTimeout(bail);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => { connection.close(); process.exit(0); });
}

if (role === 'receive') {
  let before = 0;
  const receiver = connection.open_receiver({ source: { address }, credit_window: 1, autoaccept: true });
  receiver.on('receiver_open', () => {
    before = process.memoryUsage().rss;
    process.stdout.write('ready\n');
  });
  receiver.on('message', (context) => {
    const done = process.hrtime.bigint();
    const body = context.message.body;
    const size = body.content ? body.content.length : body.length;
    const peak = process.resourceUsage().maxRSS * 1024;
    finish({ received_ns: Number(done), size, peak_growth: Math.max(0, peak - before) });
  });
} else {
  const size = Number(sizeText);
  const body = rhea.message.data_section(crypto.randomBytes(size));
  const sender = connection.open_sender({ target: { address } });
  let started = 0n;
  sender.once('sendable', () => {
    started = process.hrtime.bigint();
    sender.send({ body });
  });
  sender.on('accepted', () => finish({ sent_ns: Number(started) }));
}
connection.on('error', (context) => { process.stderr.write(`${context.error || 'error'}\n`); process.exit(1); });
