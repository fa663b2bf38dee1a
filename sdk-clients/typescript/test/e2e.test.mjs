// Every resource end to end against a real `paygate serve` (sandbox), and
// the retry rules through a proxy that behaves like an unstable network.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomInt } from 'node:crypto';
import { APIConnectionError, Paygate, PaygateError } from '../dist/index.js';
import {
  KEY_ID, SECRET, WEBHOOK_SECRET, cstToday, emv, freePort, luhn, orderNo, startGateway, startProxy, wechatCode,
} from './gateway.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

const client = (opts = {}) => new Paygate({ keyId: KEY_ID, secret: SECRET, baseUrl: gw.url, ...opts });
const FAST = { initialBackoff: 20, maxBackoff: 100 };
const collect = async (it) => { const out = []; for await (const x of it) out.push(x); return out; };

describe('orders', () => {
  test('lifecycle: create, retrieve, list, refund, close, cancel, quote', async () => {
    const pg = client();
    const no = orderNo();
    const o = await pg.orders.create({ merchant_order_no: no, amount: 1234, currency: 'CNY', subject: 'Latte',
      method: 'auth_code', auth_code: wechatCode(), terminal_id: 'T0001' });
    assert.deepEqual([o.status, o.channel, o.fee, o.net_amount], ['succeeded', 'wechat', 7, 1227]);
    assert.equal((await pg.orders.retrieve(o.id)).merchant_order_no, no);
    assert.deepEqual((await collect(pg.orders.list({ merchant_order_no: no }))).map((x) => x.id), [o.id]);

    const r = await pg.refunds.create(o.id, { merchant_refund_no: no + '-R1', amount: 234, reason: '顾客退货' });
    assert.deepEqual([r.order_id, r.amount], [o.id, 234]);
    assert.equal((await pg.refunds.retrieve(r.id)).id, r.id);
    await assert.rejects(pg.refunds.create(o.id, { merchant_refund_no: no + '-R2', amount: 5000 }), (e) => {
      assert.ok(e instanceof PaygateError);
      assert.deepEqual([e.status, e.code], [422, 'refund_exceeds_amount']);
      assert.ok(e.requestId && e.message);
      return true;
    });

    const qr = await pg.orders.create({ merchant_order_no: orderNo(), amount: 500, subject: 'Cake', method: 'qr', channel: 'alipay' });
    assert.equal(qr.status, 'pending');
    assert.equal((await pg.orders.close(qr.id)).status, 'closed');
    const paid = await pg.orders.create({ merchant_order_no: orderNo(), amount: 800, subject: 'Tea', method: 'auth_code',
      auth_code: wechatCode(), terminal_id: 'T0001' });
    assert.equal((await pg.orders.cancel(paid.id)).status, 'reversed');

    const q = await pg.routes.quote({ merchant_order_no: orderNo(), amount: 10000, subject: 'Quote', method: 'qr', channel: 'wechat' });
    assert.deepEqual([q.object, q.fee], ['quote', 60]);
    assert.ok(q.route.candidates.length > 0);
  });

  test('card pre-authorisation and capture', async () => {
    const pg = client();
    const pan = luhn('622848000000' + String(randomInt(1e6)).padStart(6, '0'));
    const o = await pg.orders.create({ merchant_order_no: orderNo(), amount: 20000, subject: 'Hotel', method: 'card',
      capture: 'manual', terminal_id: 'T0001', location: { region_code: '310000' },
      card: { entry_mode: 'chip', type: 'credit', emv: emv(pan) } });
    assert.equal(o.status, 'authorized');
    assert.equal(o.card.last4, pan.slice(-4));
    const cap = await pg.orders.capture(o.id, { amount: 18000 });
    assert.deepEqual([cap.status, cap.amount], ['succeeded', 18000]);
  });

  test('lists page automatically', async () => {
    const pg = client();
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      ids.add((await pg.orders.create({ merchant_order_no: orderNo(), amount: 100 + i, subject: 'Page', method: 'qr', channel: 'wechat' })).id);
    }
    const first = await pg.orders.listPage({ limit: 2, status: 'pending' });
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor);
    const seen = (await collect(pg.orders.list({ limit: 2, status: 'pending' }))).filter((o) => ids.has(o.id));
    assert.equal(seen.length, 5);
  });
});

test('a QR order paid through the sandbox; its webhook verified by the SDK', async () => {
  const pg = client();
  const events = [];
  let wake;
  const recv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        events.push(Paygate.webhooks.constructEvent(Buffer.concat(chunks), req.headers['paygate-signature'], WEBHOOK_SECRET));
        res.writeHead(204).end();
      } catch (e) {
        events.push(e);
        res.writeHead(400).end();
      }
      wake?.();
    });
  });
  await new Promise((r) => recv.listen(0, '127.0.0.1', r));
  const next = async () => {
    const deadline = Date.now() + 30_000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => { wake = r; setTimeout(r, 500); });
    assert.ok(events.length > 0, 'no webhook');
    return events.shift();
  };
  try {
    const o = await pg.orders.create({ merchant_order_no: orderNo(), amount: 2500, subject: 'Cake', method: 'qr', channel: 'wechat',
      notify_url: `http://127.0.0.1:${recv.address().port}/paygate` });
    const scan = await fetch(gw.url + '/sandbox/wechat/scan', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ qr_code: o.qr_code }) });
    assert.ok(scan.ok);
    const e = await next();
    assert.ok(!(e instanceof Error), String(e));
    assert.equal(e.type, 'order.succeeded');
    assert.deepEqual([e.data.object.id, e.data.object.status], [o.id, 'succeeded']);
    assert.equal((await pg.events.retrieve(e.id)).id, e.id);
    assert.deepEqual((await collect(pg.events.list({ order_id: o.id }))).filter((x) => x.id === e.id).length, 1);
    await pg.events.redeliver(e.id);
    assert.equal((await next()).id, e.id);
    assert.equal((await pg.orders.retrieve(o.id)).status, 'succeeded');
  } finally {
    recv.close();
  }
});

test('terminals: register, activate, pay with the terminal key, deactivate', async () => {
  const pg = client();
  const tid = 'TT' + String(randomInt(1e6)).padStart(6, '0');
  const term = await pg.terminals.create({ terminal_id: tid, serial_no: 'SN-' + tid, model: 'P2', region_code: '310000' });
  const again = await pg.terminals.newActivationCode(term.id);
  assert.notEqual(again.activation_code, term.activation_code);
  const act = await new Paygate({ baseUrl: gw.url }).terminals.activate(again.activation_code);
  const pos = new Paygate({ keyId: act.key_id, secret: act.key_secret, baseUrl: gw.url });
  const o = await pos.orders.create({ merchant_order_no: orderNo(), amount: 300, subject: 'Bun', method: 'auth_code',
    auth_code: wechatCode(), terminal_id: tid });
  assert.deepEqual([o.status, o.terminal_id], ['succeeded', tid]);
  assert.equal((await pg.terminals.retrieve(term.id)).status, 'active');
  assert.notEqual((await pg.terminals.deactivate(term.id)).status, 'active');
  await assert.rejects(pos.orders.retrieve(o.id), (e) => e instanceof PaygateError && e.status === 401);
});

test('qr codes', async () => {
  const pg = client();
  const q = await pg.qrCodes.create({ store_name: '静安店', terminal_id: 'T0001' });
  assert.ok(q.active && q.url && q.png_url);
  assert.equal((await pg.qrCodes.retrieve(q.id)).id, q.id);
  assert.ok((await collect(pg.qrCodes.list({ limit: 1 }))).some((x) => x.id === q.id));
  assert.equal((await pg.qrCodes.deactivate(q.id)).active, false);
});

test('reconciliations, discrepancies and statements', async () => {
  const pg = client();
  const o = await pg.orders.create({ merchant_order_no: orderNo(), amount: 4321, subject: 'Recon', method: 'auth_code',
    auth_code: wechatCode(), terminal_id: 'T0001' });
  const day = cstToday();
  // The channel's bill will charge another fee on this order: a discrepancy
  // the merchant sees and resolves.
  const adj = await fetch(gw.url + '/sandbox/wechat/bill_adjustments', { method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ date: day, action: 'fee', out_trade_no: o.id, value: '1' }) });
  assert.equal(adj.status, 204);
  let run = await pg.reconciliations.create({ date: day, provider: 'wechat' });
  if (run.object === 'list') run = run.data[0];
  const got = await pg.reconciliations.retrieve(run.id);
  assert.deepEqual([got.provider, got.date], ['wechat', day]);
  assert.ok((await collect(pg.reconciliations.list({ date: day }))).some((r) => r.id === run.id));
  const open = (await collect(pg.reconciliations.discrepancies(run.id)))
    .filter((d) => d.order_id === o.id && d.outcome === 'fee_mismatch' && d.resolution === 'open');
  assert.equal(open.length, 1);
  const resolved = await pg.discrepancies.resolve(open[0].id, { note: 'checked by the SDK test' });
  assert.deepEqual([resolved.resolution, resolved.note], ['accepted', 'checked by the SDK test']);
  const st = await pg.statements.retrieve(day);
  assert.equal(st.object, 'statement');
  assert.equal(st.lines.reduce((s, l) => s + l.amount, 0), st.totals.amount);
  const csv = await pg.statements.download(day, 'csv');
  assert.deepEqual([...csv.slice(0, 3)], [0xef, 0xbb, 0xbf]);
  const xlsx = await pg.statements.download(day, 'xlsx');
  assert.equal(Buffer.from(xlsx.slice(0, 2)).toString(), 'PK');
});

describe('unstable networks', () => {
  const sameAnswer = (exs) => {
    assert.equal(exs.length, 2);
    assert.ok(exs[0].idempotencyKey);
    assert.equal(exs[0].idempotencyKey, exs[1].idempotencyKey);
    assert.deepEqual([exs[0].status, exs[1].status], [201, 200]);
    assert.ok(exs[0].body.equals(exs[1].body), 'the replayed answer differs from the first');
  };
  const createQR = (pg) => pg.orders.create({ merchant_order_no: orderNo(), amount: 100, subject: 'Retry', method: 'qr', channel: 'wechat' });

  test('an answer lost after the gateway took the payment: one order, one refund', async () => {
    const p = await startProxy(gw.url, ['drop']);
    try {
      const no = orderNo();
      const o = await client({ baseUrl: p.url, ...FAST }).orders.create({ merchant_order_no: no, amount: 1500, subject: 'Noodles',
        method: 'auth_code', auth_code: wechatCode(), terminal_id: 'T0001' });
      sameAnswer(p.exchanges);
      assert.equal(JSON.parse(p.exchanges[0].body).id, o.id);
      assert.equal((await collect(client().orders.list({ merchant_order_no: no }))).length, 1);
      const rp = await startProxy(gw.url, ['drop']);
      try {
        const r = await client({ baseUrl: rp.url, ...FAST }).refunds.create(o.id, { merchant_refund_no: no + '-R', amount: 500 });
        sameAnswer(rp.exchanges);
        assert.deepEqual([r.amount, (await client().orders.retrieve(o.id)).refunded_amount], [500, 500]);
      } finally { await rp.close(); }
    } finally { await p.close(); }
  });

  test('429 waits for Retry-After; 502 and 503 are retried', async () => {
    const p = await startProxy(gw.url, ['429', 'forward', '502', 'forward', '503']);
    try {
      const start = Date.now();
      for (let i = 0; i < 3; i++) await createQR(client({ baseUrl: p.url, ...FAST }));
      assert.ok(Date.now() - start >= 1000, 'Retry-After ignored');
      const exs = p.exchanges;
      assert.equal(exs.length, 6);
      for (let i = 0; i < 6; i += 2) assert.equal(exs[i].idempotencyKey, exs[i + 1].idempotencyKey);
    } finally { await p.close(); }
  });

  test('connection refused is retried', async () => {
    const port = await freePort();
    let p;
    setTimeout(async () => { p = await startProxy(gw.url, [], port); }, 100);
    try {
      const o = await createQR(client({ baseUrl: `http://127.0.0.1:${port}`, initialBackoff: 300, maxBackoff: 1000 }));
      assert.equal(o.status, 'pending');
    } finally { await p?.close(); }
  });

  test('gives up after the retries', async () => {
    const p = await startProxy(gw.url, ['503', '503', '503', '503']);
    try {
      await assert.rejects(createQR(client({ baseUrl: p.url, maxRetries: 2, ...FAST })),
        (e) => e instanceof PaygateError && e.status === 503 && e.code === 'service_unavailable');
      assert.equal(p.exchanges.length, 3);
    } finally { await p.close(); }
    const dead = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(createQR(client({ baseUrl: dead, maxRetries: 1, ...FAST })), (e) => e instanceof APIConnectionError);
  });

  test('400, 401, 404 and 422 are not retried', async () => {
    const p = await startProxy(gw.url);
    try {
      const pg = client({ baseUrl: p.url, ...FAST });
      const bad = new Paygate({ keyId: KEY_ID, secret: SECRET + 'x', baseUrl: p.url, ...FAST });
      const cases = [
        [400, () => pg.orders.create({ merchant_order_no: orderNo(), amount: -1, subject: 'x', method: 'qr', channel: 'wechat' })],
        [401, () => bad.orders.retrieve('ord_nope')],
        [404, () => pg.orders.retrieve('ord_doesnotexist')],
        [422, () => pg.orders.create({ merchant_order_no: orderNo(), amount: 100, subject: 'x', method: 'auth_code',
          auth_code: '999999999999999999', terminal_id: 'T0001' })],
      ];
      for (const [status, call] of cases) {
        const before = p.exchanges.length;
        await assert.rejects(call(), (e) => {
          assert.ok(e instanceof PaygateError);
          assert.equal(e.status, status);
          assert.ok(e.code && e.requestId);
          assert.ok(!String(e).includes(SECRET) && !JSON.stringify(pg).includes(SECRET));
          return true;
        });
        assert.equal(p.exchanges.length - before, 1, `${status} retried`);
      }
    } finally { await p.close(); }
  });
});
