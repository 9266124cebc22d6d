#!/usr/bin/env node
// A small AMQP 1.0 peer built on rhea, for amqp10's client to talk to. It behaves like
// interop/proton/listener.py (same flags, same JSON events), so a test can swap one for the other:
//
// - an address is a queue: stored until a receiver takes the messages (round-robin);
// - an address starting "topic://" is a topic: a copy to each attached receiver, nothing stored;
// - the --echo address (default "echo") answers each message with a copy sent to its reply-to,
//   correlation-id set to the request's message-id (or its correlation-id when it has one);
// - a receiver with a dynamic source gets a fresh queue "dynamic/<n>", deleted on detach;
// - a sender without a target routes by each message's "to" (ANONYMOUS-RELAY is offered unless
//   --no-anonymous-relay);
// - --refuse ADDRESS (repeatable): the attach is answered, then detached with amqp:not-found.
//
// Incoming unsettled deliveries get --outcome (only accepted ones are stored); with
// rcv-settle-mode second we settle after the sender does. Outgoing deliveries follow the
// snd-settle-mode the receiver asked for; released/modified ones go back to their place in the
// queue, as do unsettled ones of a receiver that detaches.
//
// SASL: --sasl-mechs "ANONYMOUS PLAIN" (default ANONYMOUS); PLAIN checks --user/--password.
// A client that sends no SASL layer (rhea's own default without a user name) is accepted when
// ANONYMOUS is offered and --require-sasl is not given; --no-sasl disables SASL entirely.
// Prints "listening on PORT" when ready; with --events, one JSON object per line afterwards.
'use strict';

const fs = require('fs');
const rhea = require('rhea');

function usage(message) {
  process.stderr.write(`listener.js: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    host: '127.0.0.1', port: 0, saslMechs: 'ANONYMOUS', user: null, password: null,
    requireSasl: false, noSasl: false, idleTimeout: 0, maxFrameSize: 0, credit: 100,
    outcome: 'accept', echo: 'echo', refuse: [], noAnonymousRelay: false,
    containerId: `rhea-listener-${process.pid}`, tlsCert: null, tlsKey: null, events: false,
  };
  const valued = {
    '--host': (v) => { args.host = v; },
    '--port': (v) => { args.port = Number(v); },
    '--sasl-mechs': (v) => { args.saslMechs = v; },
    '--user': (v) => { args.user = v; },
    '--password': (v) => { args.password = v; },
    '--idle-timeout': (v) => { args.idleTimeout = Number(v); },
    '--max-frame-size': (v) => { args.maxFrameSize = Number(v); },
    '--credit': (v) => { args.credit = Number(v); },
    '--outcome': (v) => { args.outcome = v; },
    '--echo': (v) => { args.echo = v; },
    '--refuse': (v) => { args.refuse.push(v); },
    '--container-id': (v) => { args.containerId = v; },
    '--tls-cert': (v) => { args.tlsCert = v; },
    '--tls-key': (v) => { args.tlsKey = v; },
  };
  const flags = {
    '--require-sasl': () => { args.requireSasl = true; },
    '--no-sasl': () => { args.noSasl = true; },
    '--no-anonymous-relay': () => { args.noAnonymousRelay = true; },
    '--events': () => { args.events = true; },
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flags[a]) flags[a]();
    else if (valued[a] && i + 1 < argv.length) valued[a](argv[++i]);
    else usage(`unknown or incomplete option ${a}`);
  }
  if (!['accept', 'reject', 'release', 'modify'].includes(args.outcome)) usage(`bad --outcome ${args.outcome}`);
  const mechs = args.saslMechs.split(/\s+/).filter(Boolean);
  for (const m of mechs) if (!['ANONYMOUS', 'PLAIN'].includes(m)) usage(`cannot serve SASL ${m}`);
  if (mechs.includes('PLAIN') && (args.user === null || args.password === null)) usage('PLAIN needs --user and --password');
  if (Boolean(args.tlsCert) !== Boolean(args.tlsKey)) usage('--tls-cert and --tls-key go together');
  args.mechs = mechs;
  return args;
}

// Make a body or property printable as JSON without losing what it was.
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

class Broker {
  constructor(args) {
    this.args = args;
    this.queues = new Map(); // address -> [{seq, message}]
    this.consumers = new Map(); // address -> [sender links]
    this.inFlight = new Map(); // delivery -> {address, seq, message}
    this.arrivals = 0;
    this.dynamicIds = 0;
  }

  emit(event, fields) {
    if (this.args.events) {
      const out = { event };
      for (const [k, v] of Object.entries(fields || {})) out[k] = jsonable(v);
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
  }

  // -- links ------------------------------------------------------------------------------
  senderOpen(context) { // the peer receives from us
    const link = context.sender;
    const remote = link.remote.attach;
    link.local.attach.snd_settle_mode = remote.snd_settle_mode;
    link.local.attach.rcv_settle_mode = remote.rcv_settle_mode;
    const source = remote.source || {};
    let address = source.address;
    if (source.dynamic) {
      address = `dynamic/${++this.dynamicIds}`;
      this.queues.set(address, []);
      link.set_source(Object.assign({}, source, { address }));
      link.dynamicAddress = address;
    } else if (address === undefined || address === null || this.args.refuse.includes(address)) {
      return this.refuse(link, address, address == null ? 'a receiver needs a source address' : undefined);
    } else {
      link.set_source(source);
    }
    if (remote.target) link.set_target(remote.target);
    if (!this.consumers.has(address)) this.consumers.set(address, []);
    this.consumers.get(address).push(link);
    link.address = address;
    // rhea writes queued transfers before a link's attach within one output pass, so a message
    // sent in the tick that answers the attach would reach the peer before our attach (it then
    // fails with "invalid handle"). Start sending only after that pass (nextTick) has run.
    link.attachSent = false;
    setImmediate(() => { link.attachSent = true; this.pump(address); });
    this.emit('attach', {
      role: 'sender', address, name: link.name, dynamic: Boolean(source.dynamic),
      snd_settle_mode: remote.snd_settle_mode || 0, rcv_settle_mode: remote.rcv_settle_mode || 0,
    });
  }

  receiverOpen(context) { // the peer sends to us
    const link = context.receiver;
    const remote = link.remote.attach;
    link.local.attach.snd_settle_mode = remote.snd_settle_mode;
    link.local.attach.rcv_settle_mode = remote.rcv_settle_mode;
    const address = remote.target ? remote.target.address : undefined;
    if (address !== undefined && address !== null && this.args.refuse.includes(address)) {
      return this.refuse(link, address);
    }
    if ((address === undefined || address === null) && this.args.noAnonymousRelay) {
      return this.refuse(link, address, 'no target address, and this peer does not offer ANONYMOUS-RELAY');
    }
    if (remote.target) link.set_target(remote.target);
    if (remote.source) link.set_source(remote.source);
    this.emit('attach', {
      role: 'receiver', address, name: link.name, dynamic: false,
      snd_settle_mode: remote.snd_settle_mode || 0, rcv_settle_mode: remote.rcv_settle_mode || 0,
    });
  }

  refuse(link, address, description) {
    // rhea has already queued our attach (with a null terminus); the detach follows it.
    const text = description || `address ${JSON.stringify(address)} is refused by this peer`;
    link.refused = true;
    link.close({ condition: 'amqp:not-found', description: text });
    this.emit('refused', { address, description: text });
  }

  linkGone(link) {
    if (link.refused || link.forgotten) return;
    link.forgotten = true;
    if (link.address !== undefined) {
      const links = this.consumers.get(link.address) || [];
      const i = links.indexOf(link);
      if (i >= 0) links.splice(i, 1);
      if (link.dynamicAddress) this.queues.delete(link.dynamicAddress);
    }
    for (const [delivery, entry] of [...this.inFlight]) {
      if (delivery.link === link) {
        // rhea reports a detach at once, but the outcomes that arrived just before it only on
        // its next pass: a delivery that has one is left to outcome(), which runs after this.
        if (delivery.remote_state && delivery.remote_state.constructor.composite_type) continue;
        this.inFlight.delete(delivery);
        this.requeue(entry);
      }
    }
    this.emit('detach', { name: link.name });
  }

  connectionGone(connection) {
    for (const links of this.consumers.values()) {
      for (const link of [...links]) if (link.connection === connection) this.linkGone(link);
    }
  }

  // -- incoming messages ------------------------------------------------------------------
  message(context) {
    const { delivery, message, receiver } = context;
    const target = receiver.remote.attach.target;
    const address = (target && target.address) || message.to;
    this.emit('message', {
      address, body: message.body, id: message.message_id,
      properties: message.application_properties, settled: delivery.remote_settled,
    });
    let outcome = this.args.outcome;
    let reason = 'rejected by --outcome reject';
    if (outcome === 'accept' && address === this.args.echo && !message.reply_to) {
      outcome = 'reject';
      reason = 'the echo service needs a reply-to address';
    } else if (outcome === 'accept' && (address === undefined || address === null)) {
      outcome = 'reject';
      reason = "anonymous relay needs the message's to field";
    }
    if (outcome === 'accept') this.route(address, message);
    if (delivery.remote_settled) {
      // Pre-settled: at-most-once, no outcome travels back. Settle it here all the same: rhea
      // keeps a delivery in its session buffer (2048) until it is settled locally, and a full
      // buffer closes the session's incoming window for good.
      delivery.update(true);
      return;
    }
    // update(settled, state): with rcv-settle-mode second (1) we settle once the sender did.
    const settle = receiver.local.attach.rcv_settle_mode !== 1;
    if (outcome === 'accept') delivery.update(settle, rhea.message.accepted().described());
    else if (outcome === 'reject') {
      delivery.update(settle, rhea.message.rejected({ error: { condition: 'amqp:precondition-failed', description: reason } }).described());
    } else if (outcome === 'release') delivery.update(settle, rhea.message.released().described());
    else delivery.update(settle, rhea.message.modified({ delivery_failed: true, undeliverable_here: false }).described());
  }

  route(address, message) {
    if (address === this.args.echo) {
      const reply = {
        body: message.body, to: message.reply_to, subject: message.subject,
        correlation_id: message.correlation_id !== undefined ? message.correlation_id : message.message_id,
        application_properties: message.application_properties,
      };
      this.route(message.reply_to, reply);
    } else if (address.startsWith('topic://')) {
      const seq = ++this.arrivals;
      for (const link of [...(this.consumers.get(address) || [])]) this.send(link, address, seq, message);
    } else {
      if (!this.queues.has(address)) this.queues.set(address, []);
      this.queues.get(address).push({ seq: ++this.arrivals, message });
      this.pump(address);
    }
  }

  // -- outgoing messages ------------------------------------------------------------------
  pump(address) {
    if (address === undefined || address.startsWith('topic://')) return;
    const queue = this.queues.get(address);
    const links = this.consumers.get(address) || [];
    while (queue && queue.length && links.length) {
      const ready = links.filter((l) => l.attachSent && l.sendable());
      if (!ready.length) return;
      for (const link of ready) {
        if (!queue.length) return;
        const { seq, message } = queue.shift();
        this.send(link, address, seq, message);
        links.splice(links.indexOf(link), 1); // rotate: this link goes to the back
        links.push(link);
      }
    }
  }

  send(link, address, seq, message) {
    if (!link.attachSent || !link.sendable()) return;
    const delivery = link.send(message);
    if (!delivery.settled) this.inFlight.set(delivery, { address, seq, message });
    this.emit('sent', { address, body: message.body });
  }

  outcome(context, name) {
    const { delivery } = context;
    const state = delivery.remote_state || {};
    this.emit('outcome', {
      outcome: name, address: context.sender.address,
      condition: state.error ? state.error.condition : null,
      failed: name === 'modified' ? Boolean(state.delivery_failed) : null,
      undeliverable: name === 'modified' ? Boolean(state.undeliverable_here) : null,
    });
    const entry = this.inFlight.get(delivery);
    this.inFlight.delete(delivery);
    if (entry && (name === 'released' || name === 'modified')) {
      if (name === 'modified' && state.delivery_failed) {
        entry.message.delivery_count = (entry.message.delivery_count || 0) + 1;
      }
      this.requeue(entry);
    }
  }

  requeue({ address, seq, message }) {
    // Topic copies are not stored, and a dynamic queue may be gone with its link.
    if (address.startsWith('topic://') || (address.startsWith('dynamic/') && !this.queues.has(address))) return;
    if (!this.queues.has(address)) this.queues.set(address, []);
    const queue = this.queues.get(address);
    let position = 0; // requeued messages belong near the head: scan from there
    while (position < queue.length && queue[position].seq < seq) position++;
    queue.splice(position, 0, { seq, message });
    this.pump(address);
  }
}

// The authenticated user name, or null when the client skipped SASL.
function saslUser(connection) {
  let t = connection.sasl_transport;
  if (t && t.transports) t = t.selected === t.transports[3] ? t.transports[3] : undefined; // Selective
  return t && t.username ? t.username : null;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const broker = new Broker(args);
  const container = rhea.create_container({ id: args.containerId });

  if (!args.noSasl) {
    if (args.mechs.includes('ANONYMOUS')) container.sasl_server_mechanisms.enable_anonymous();
    if (args.mechs.includes('PLAIN')) {
      container.sasl_server_mechanisms.enable_plain((user, password) => user === args.user && password === args.password);
    }
  }

  container.on('connection_open', (context) => {
    const c = context.connection;
    broker.emit('connection-open', {
      container_id: c.remote.open.container_id, hostname: c.remote.open.hostname,
      user: saslUser(c),
    });
  });
  container.on('connection_close', (context) => { broker.connectionGone(context.connection); broker.emit('connection-close', {}); });
  container.on('connection_error', (context) => { broker.connectionGone(context.connection); });
  container.on('disconnected', (context) => { broker.connectionGone(context.connection); broker.emit('disconnected', {}); });
  container.on('sender_open', (context) => broker.senderOpen(context));
  container.on('receiver_open', (context) => broker.receiverOpen(context));
  container.on('sender_close', (context) => broker.linkGone(context.sender));
  container.on('receiver_close', (context) => broker.linkGone(context.receiver));
  container.on('sender_error', (context) => broker.linkGone(context.sender));
  container.on('receiver_error', (context) => broker.linkGone(context.receiver));
  container.on('session_close', (context) => broker.connectionGone(context.connection));
  container.on('sendable', (context) => broker.pump(context.sender.address));
  container.on('sender_draining', (context) => {
    broker.pump(context.sender.address);
    context.sender.set_drained(true); // nothing more now: use up the rest of the credit
  });
  container.on('message', (context) => broker.message(context));
  container.on('settled', (context) => {
    const { delivery } = context;
    if (context.receiver && !delivery.settled) delivery.update(true); // rcv-settle-mode second
  });
  container.on('accepted', (context) => broker.outcome(context, 'accepted'));
  container.on('rejected', (context) => broker.outcome(context, 'rejected'));
  container.on('released', (context) => broker.outcome(context, 'released'));
  container.on('modified', (context) => broker.outcome(context, 'modified'));
  container.on('error', (error) => broker.emit('error', { description: String(error && error.message) }));

  const options = {
    host: args.host, port: args.port, container_id: args.containerId,
    credit_window: args.credit, autoaccept: false, treat_modified_as_released: false,
    require_sasl: args.requireSasl, disable_sasl: args.noSasl,
    // rhea leaves Nagle on for accepted sockets (it sets no-delay only when a connection it
    // made attaches a receiver): small frames such as dispositions then wait for delayed ACKs.
    tcp_no_delay: true,
  };
  if (!args.noAnonymousRelay) options.offered_capabilities = ['ANONYMOUS-RELAY'];
  if (args.idleTimeout) options.idle_time_out = Math.round(args.idleTimeout * 1000);
  if (args.maxFrameSize) options.max_frame_size = args.maxFrameSize;
  if (args.tlsCert) {
    Object.assign(options, { transport: 'tls', cert: fs.readFileSync(args.tlsCert), key: fs.readFileSync(args.tlsKey) });
  }
  const server = container.listen(options);
  server.on('listening', () => process.stdout.write(`listening on ${server.address().port}\n`));
  server.on('error', (error) => { process.stderr.write(`listen failed: ${error.message}\n`); process.exit(1); });
  process.on('SIGTERM', () => process.exit(0));
}

main();
