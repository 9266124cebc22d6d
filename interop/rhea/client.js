#!/usr/bin/env node
// A rhea client that runs one scenario against a peer and prints one JSON object, like
// interop/proton/client.py (same scenarios, flags and output):
//
//   client.js URL SCENARIO [--address A] [--count N] [--body TEXT] [--size BYTES] [--presettled]
//             [--outcome accept|reject|release|modify] [--credit N] [--no-bodies] [--ca FILE]
//             [--servername NAME]
//             [--sasl-anonymous] [--idle-timeout S] [--max-frame-size N] [--timeout S]
//             [--container-id ID]
//
// URL is amqp[s]://[user:password@]host:port. Scenarios: send, receive, request (dynamic
// reply-to), respond (answer each request to its reply-to, through an anonymous sender when the
// peer offers ANONYMOUS-RELAY), drain (grant --credit with the drain flag set, take what comes,
// finish when the peer's flow gives back the unused credit: "drained": true). Exit status 0 on success, 1 with an "error" member when the peer
// refuses something or --timeout expires, 2 for a usage error.
//
// SASL is rhea's: with user and password in the URL it uses PLAIN; without a user it sends no
// SASL layer at all, unless --sasl-anonymous asks for SASL ANONYMOUS.
'use strict';

const fs = require('fs');
const rhea = require('rhea');

function usage(message) {
  process.stderr.write(`client.js: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    address: 'examples', count: 1, body: 'message-', size: 0, presettled: false, outcome: 'accept',
    credit: 100, bodies: true, ca: null, servername: null, saslAnonymous: false, idleTimeout: 0, maxFrameSize: 0,
    timeout: 30, containerId: 'rhea-client',
  };
  const valued = {
    '--address': (v) => { args.address = v; },
    '--count': (v) => { args.count = Number(v); },
    '--body': (v) => { args.body = v; },
    '--size': (v) => { args.size = Number(v); },
    '--outcome': (v) => { args.outcome = v; },
    '--credit': (v) => { args.credit = Number(v); },
    '--ca': (v) => { args.ca = v; },
    '--servername': (v) => { args.servername = v; },
    '--idle-timeout': (v) => { args.idleTimeout = Number(v); },
    '--max-frame-size': (v) => { args.maxFrameSize = Number(v); },
    '--timeout': (v) => { args.timeout = Number(v); },
    '--container-id': (v) => { args.containerId = v; },
  };
  const flags = {
    '--presettled': () => { args.presettled = true; },
    '--no-bodies': () => { args.bodies = false; },
    '--sasl-anonymous': () => { args.saslAnonymous = true; },
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flags[a]) flags[a]();
    else if (valued[a] && i + 1 < argv.length) valued[a](argv[++i]);
    else if (a.startsWith('--')) usage(`unknown or incomplete option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) usage('expected URL and SCENARIO');
  [args.url, args.scenario] = positional;
  if (!['send', 'receive', 'request', 'respond', 'drain'].includes(args.scenario)) usage(`unknown scenario ${args.scenario}`);
  if (!['accept', 'reject', 'release', 'modify'].includes(args.outcome)) usage(`bad --outcome ${args.outcome}`);
  return args;
}

function jsonable(value) {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return { binary: value.toString('base64') };
  if (Array.isArray(value)) return value.map(jsonable);
  if (typeof value === 'object') {
    if (value.typecode !== undefined && value.value !== undefined) return jsonable(value.value);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonable(v);
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function connectOptions(args) {
  const url = new URL(args.url);
  const options = {
    host: url.hostname, port: Number(url.port || (url.protocol === 'amqps:' ? 5671 : 5672)),
    container_id: args.containerId, reconnect: false, autoaccept: false,
    treat_modified_as_released: false, credit_window: 0,
  };
  if (url.username) options.username = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  if (!url.username && args.saslAnonymous) options.username = 'anonymous'; // rhea: user, no password -> ANONYMOUS
  if (args.idleTimeout) options.idle_time_out = Math.round(args.idleTimeout * 1000);
  if (args.maxFrameSize) options.max_frame_size = args.maxFrameSize;
  if (url.protocol === 'amqps:') {
    options.transport = 'tls';
    // rhea copies the host into SNI, and Node warns when SNI is an IP (RFC 6066 forbids it);
    // like the proton client, verify (and send SNI) "localhost" for an IP host instead.
    options.servername = args.servername || (require('net').isIP(url.hostname) ? 'localhost' : url.hostname);
    if (args.ca) options.ca = [fs.readFileSync(args.ca)];
    else options.rejectUnauthorized = false;
  }
  return options;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const result = { scenario: args.scenario };
  const outcomes = {};
  const conditions = [];
  const bodies = [];
  const replies = [];
  let sent = 0;
  let settled = 0;
  let received = 0;
  let finished = false;
  let sender = null;
  let receiver = null;
  let replyTo = null;
  const replySenders = new Map();

  const container = rhea.create_container({ id: args.containerId });
  const connection = container.connect(connectOptions(args));

  // Print the report, then exit: process.exit() right after a large write to a pipe would cut
  // the output short, so exit from the write's callback.
  let reported = false;
  function reportAndExit(code) {
    if (reported) return; // the close and the disconnect may both end the run
    reported = true;
    if (args.scenario === 'send' || args.scenario === 'request') result.sent = sent;
    if (args.scenario === 'send') Object.assign(result, { outcomes, conditions });
    if (args.scenario === 'receive' || args.scenario === 'respond' || args.scenario === 'drain') {
      result.received = received;
      if (args.bodies) result.bodies = bodies;
    }
    if (args.scenario === 'request') result.replies = replies;
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
  }

  // Close cleanly, report once the peer answered our close (or after 2 s).
  function finish() {
    if (finished) return;
    finished = true;
    clearTimeout(deadline);
    const exit = () => reportAndExit(result.error ? 1 : 0);
    const hardStop = setTimeout(exit, 2000);
    connection.once('connection_close', () => { clearTimeout(hardStop); exit(); });
    connection.once('disconnected', () => { clearTimeout(hardStop); exit(); });
    connection.close();
  }

  function fail(where, error) {
    if (!result.error) {
      result.error = { where, condition: error ? error.condition || null : null, description: error ? error.description || String(error.message || error) : null };
    }
    if (finished) return;
    if (where === 'transport') { // nothing to close any more
      finished = true;
      reportAndExit(1);
    }
    finish();
  }

  const deadline = setTimeout(() => fail('timeout', { condition: 'amqp10:timeout', description: `scenario did not finish within ${args.timeout}s` }), args.timeout * 1000);

  function makeMessage(index) {
    const message = { message_id: `${args.containerId}-${index}`, body: args.size ? Buffer.alloc(args.size) : `${args.body}${index}` };
    if (args.scenario === 'request') message.reply_to = replyTo;
    return message;
  }

  function pumpSend() {
    while (sender && sender.sendable() && sent < args.count) {
      sender.send(makeMessage(sent));
      sent++;
    }
    if (args.presettled && sent === args.count && args.scenario === 'send') setImmediate(finish);
  }

  const linkSettle = args.presettled ? { snd_settle_mode: 1 } : {};
  if (args.scenario === 'send') {
    sender = connection.open_sender(Object.assign({ target: { address: args.address } }, linkSettle));
  } else if (args.scenario === 'receive' || args.scenario === 'respond') {
    receiver = connection.open_receiver(Object.assign({ source: { address: args.address }, credit_window: 0 }, linkSettle));
    receiver.add_credit(Math.min(args.credit, args.count));
  } else if (args.scenario === 'drain') {
    receiver = connection.open_receiver(Object.assign({ source: { address: args.address }, credit_window: 0 }, linkSettle));
    receiver.drain = true; // the flow that grants the credit carries drain=true (spec 2.6.7)
    receiver.add_credit(args.credit);
    connection.on('receiver_drained', (context) => {
      if (context.receiver !== receiver) return;
      result.drained = true;
      finish();
    });
  } else {
    receiver = connection.open_receiver({ source: { dynamic: true }, credit_window: 0 });
  }

  connection.on('receiver_open', (context) => {
    if (args.scenario === 'request' && !sender) {
      replyTo = context.receiver.remote.attach.source.address;
      result.reply_to = replyTo;
      receiver.add_credit(Math.min(args.credit, args.count));
      sender = connection.open_sender({ target: { address: args.address } });
    }
  });
  connection.on('sendable', (context) => { if (context.sender === sender) pumpSend(); });

  function countOutcome(context, name) {
    if (context.sender !== sender) return;
    outcomes[name] = (outcomes[name] || 0) + 1;
    const state = context.delivery.remote_state;
    if (state && state.error) conditions.push({ outcome: name, condition: state.error.condition, description: state.error.description });
    settled++;
    if (args.scenario === 'send' && settled === args.count) finish();
  }
  connection.on('accepted', (c) => countOutcome(c, 'accepted'));
  connection.on('rejected', (c) => countOutcome(c, 'rejected'));
  connection.on('released', (c) => countOutcome(c, 'released'));
  connection.on('modified', (c) => countOutcome(c, 'modified'));

  connection.on('message', (context) => {
    const { delivery, message } = context;
    received++;
    if (args.scenario === 'request') {
      replies.push({ correlation_id: jsonable(message.correlation_id), body: jsonable(message.body) });
    } else {
      if (args.bodies) bodies.push(jsonable(message.body));
      if (args.scenario === 'respond') respond(message);
    }
    if (delivery.remote_settled) {
      delivery.update(true); // rhea frees its session window only for deliveries settled here
    } else {
      if (args.outcome === 'accept') delivery.accept();
      else if (args.outcome === 'reject') delivery.reject({ condition: 'amqp:precondition-failed', description: 'rejected by --outcome reject' });
      else if (args.outcome === 'release') delivery.release();
      else delivery.modified({ delivery_failed: true });
    }
    if (args.scenario === 'drain') return; // no more credit: the drain's answer ends the scenario
    if (received < args.count) {
      if (receiver.credit === 0) receiver.add_credit(Math.min(args.credit, args.count - received));
    } else if (args.scenario !== 'respond') {
      finish();
    }
  });

  function respond(request) {
    const caps = connection.remote.open.offered_capabilities;
    const relay = [].concat(caps || []).map(String).includes('ANONYMOUS-RELAY');
    const key = relay ? null : request.reply_to;
    // An anonymous sender has a target with no address, as rhea's own connection.send() uses;
    // open_sender({}) would send no target at all, which peers refuse (amqp:invalid-field).
    if (!replySenders.has(key)) replySenders.set(key, connection.open_sender({ target: key === null ? {} : { address: key } }));
    const reply = { body: request.body, correlation_id: request.message_id };
    if (relay) reply.to = request.reply_to;
    const link = replySenders.get(key);
    // rhea queues a send made before credit arrives; it goes out once the peer grants credit.
    link.send(reply);
    if (received === args.count) {
      result.responded = received;
      setTimeout(finish, 500); // let the replies reach the wire before closing
    }
  }

  connection.on('sender_error', (c) => fail('link', c.sender.error));
  connection.on('receiver_error', (c) => fail('link', c.receiver.error));
  connection.on('sender_close', () => { if (!finished) fail('link', { description: 'the peer detached the link without an error' }); });
  connection.on('receiver_close', () => { if (!finished) fail('link', { description: 'the peer detached the link without an error' }); });
  connection.on('session_error', (c) => fail('session', c.session.error));
  // A SASL failure is a transport_error (amqp:unauthorized-access), not a close from the peer.
  connection.on('connection_error', (c) => fail('connection', c.connection.error || c.connection.transport_error));
  connection.on('connection_close', () => { if (!finished) fail('connection', { description: 'the peer closed the connection' }); });
  connection.on('disconnected', (c) => { if (!finished) fail('transport', c.error || { description: 'disconnected' }); });
  connection.on('error', (e) => fail('transport', e));
  container.on('error', (e) => fail('transport', e));
}

main();
