// Measures what the SDK adds per request over a bare fetch doing the least a
// caller must (sign, send, read) for the same GET against the same gateway.
// The two alternate so the machine's noise falls on both alike; medians are
// compared. Run: npm run build && node test/bench-overhead.mjs [N]
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Paygate } from '../dist/index.js';
import { KEY_ID, SECRET, orderNo, startGateway } from './gateway.mjs';

const n = Number(process.argv[2] ?? 2000);
const gw = await startGateway();
try {
  const pg = new Paygate({ keyId: KEY_ID, secret: SECRET, baseUrl: gw.url });
  const o = await pg.orders.create({ merchant_order_no: orderNo(), amount: 100, subject: 'Bench', method: 'qr', channel: 'wechat' });
  const path = `/v1/orders/${o.id}`;
  const empty = createHash('sha256').update('').digest('hex');
  const bare = async () => {
    const ts = Math.floor(Date.now() / 1000);
    const nonce = randomBytes(16).toString('hex');
    const sig = createHmac('sha256', SECRET).update(['GET', path, ts, nonce, empty].join('\n')).digest('hex');
    const r = await fetch(gw.url + path, { headers: { Authorization: `PAYGATE-HMAC-SHA256 key_id=${KEY_ID},timestamp=${ts},nonce=${nonce},signature=${sig}` } });
    await r.arrayBuffer();
  };
  const tb = [], ts = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await bare();
    const t1 = performance.now();
    await pg.orders.retrieve(o.id);
    tb.push(t1 - t0);
    ts.push(performance.now() - t1);
  }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1] * 1000;
  const mb = med(tb), ms = med(ts);
  console.log(`typescript: ${n} requests each; bare median ${mb.toFixed(0)} µs, sdk median ${ms.toFixed(0)} µs, overhead ${(ms - mb).toFixed(0)} µs`);
} finally {
  await gw.stop();
}
