// Checks paygate's Alipay simulator with Alipay's official Node.js SDK
// (alipay-sdk, pinned in package.json), its own signature checks on: the
// SDK signs each request (system parameters in the query string, business
// parameters in the body) and verifies each answer's signature
// (validateSign) and each notification's (checkNotifySign).
//
// The test runs `paygate sandbox` (PAYGATE_BIN, or built from the
// repository with go build) on a free port with its own data dir, takes the
// app's credentials from GET /sandbox/credentials, and receives the
// simulator's notifications itself, standing in for the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlipaySdk } from 'alipay-sdk';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'paygate-alipay-sdk-'));

let sandbox; // the child process
let base; // where the simulators listen
let creds; // the alipay entry of /sandbox/credentials
let receiver; // stands in for the gateway's /callbacks/alipay
const notices = []; // notifications received, parsed
const waiters = [];

function paygateBinary() {
  if (process.env.PAYGATE_BIN) return process.env.PAYGATE_BIN;
  const bin = join(work, 'paygate');
  execFileSync('go', ['build', '-o', bin, './cmd/paygate'], { cwd: repo, stdio: 'inherit' });
  return bin;
}

function nextNotice(pred) {
  const found = notices.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('no notification')), 10000);
    waiters.push({ pred, ok: (n) => { clearTimeout(timer); ok(n); } });
  });
}

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const notice = Object.fromEntries(new URLSearchParams(body));
      notices.push(notice);
      for (const w of waiters.splice(0)) {
        if (w.pred(notice)) w.ok(notice); else waiters.push(w);
      }
      res.end('success');
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
  const gateway = `http://127.0.0.1:${receiver.address().port}`;

  sandbox = spawn(paygateBinary(), ['sandbox'], {
    env: { ...process.env, PAYGATE_ADDR: '127.0.0.1:0', PAYGATE_DATA_DIR: join(work, 'data'), PAYGATE_GATEWAY_URL: gateway },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // "# channel simulators on http://127.0.0.1:NNNN; callbacks go to ..."
  base = await new Promise((ok, fail) => {
    let out = '';
    sandbox.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/simulators on (http:\/\/[^;\s]+);/);
      if (m) ok(m[1]);
    });
    sandbox.on('exit', (code) => fail(new Error(`paygate sandbox exited ${code}`)));
  });
  const doc = await (await fetch(`${base}/sandbox/credentials`)).json();
  creds = doc.channels.alipay;
  assert.ok(creds.app_id && creds.private_key && creds.alipay_public_key && creds.gateway_url);
});

after(() => {
  sandbox?.kill();
  receiver?.close();
  rmSync(work, { recursive: true, force: true });
});

function sdk() {
  return new AlipaySdk({
    appId: creds.app_id,
    privateKey: creds.private_key,
    keyType: 'PKCS8',
    alipayPublicKey: creds.alipay_public_key,
    gateway: creds.gateway_url,
    timeout: 10000,
  });
}

const signed = { validateSign: true };
let seq = 0;
const outTradeNo = (p) => `${p}${Date.now()}${++seq}`;

test('precreate, pay by scanning, verified notification, query, refund and refund query', async () => {
  const alipay = sdk();
  const out = outTradeNo('P');
  const pre = await alipay.exec('alipay.trade.precreate', {
    bizContent: { out_trade_no: out, total_amount: '23.45', subject: '蛋糕' },
  }, signed);
  assert.equal(pre.code, '10000');
  assert.ok(pre.qrCode.startsWith('https://qr.alipay.com/'));

  const scan = await fetch(`${base}/sandbox/alipay/scan`, { method: 'POST', body: JSON.stringify({ qr_code: pre.qrCode }) });
  assert.equal(scan.status, 200);

  const notice = await nextNotice((n) => n.out_trade_no === out && n.trade_status === 'TRADE_SUCCESS');
  assert.equal(alipay.checkNotifySign(notice), true, 'the SDK verifies the notification');
  assert.equal(alipay.checkNotifySign({ ...notice, total_amount: '0.01' }), false, 'a changed notification fails');

  const q = await alipay.exec('alipay.trade.query', { bizContent: { out_trade_no: out } }, signed);
  assert.equal(q.code, '10000');
  assert.equal(q.tradeStatus, 'TRADE_SUCCESS');
  assert.equal(q.totalAmount, '23.45');

  const rf = await alipay.exec('alipay.trade.refund', {
    bizContent: { out_trade_no: out, refund_amount: '3.45', out_request_no: `${out}R1` },
  }, signed);
  assert.equal(rf.code, '10000');
  assert.equal(rf.fundChange, 'Y');

  const rq = await alipay.exec('alipay.trade.fastpay.refund.query', {
    bizContent: { out_trade_no: out, out_request_no: `${out}R1` },
  }, signed);
  assert.equal(rq.code, '10000');
  assert.equal(rq.refundAmount, '3.45');
  assert.equal(rq.refundStatus, 'REFUND_SUCCESS');
});

test('create and close', async () => {
  const alipay = sdk();
  const out = outTradeNo('C');
  const cr = await alipay.exec('alipay.trade.create', {
    bizContent: { out_trade_no: out, total_amount: '1.00', subject: '茶', buyer_id: '2088102146225135' },
  }, signed);
  assert.equal(cr.code, '10000');
  assert.ok(cr.tradeNo);
  const cl = await alipay.exec('alipay.trade.close', { bizContent: { out_trade_no: out } }, signed);
  assert.equal(cl.code, '10000');
  const q = await alipay.exec('alipay.trade.query', { bizContent: { out_trade_no: out } }, signed);
  assert.equal(q.tradeStatus, 'TRADE_CLOSED');
});

test('business errors are signed answers too', async () => {
  const q = await sdk().exec('alipay.trade.query', { bizContent: { out_trade_no: 'no-such-trade' } }, signed);
  assert.equal(q.code, '40004');
  assert.equal(q.subCode, 'ACQ.TRADE_NOT_EXIST');
});

test('a request signed with another key is refused', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const alipay = new AlipaySdk({ appId: creds.app_id, privateKey: other, keyType: 'PKCS8', alipayPublicKey: creds.alipay_public_key, gateway: creds.gateway_url });
  const q = await alipay.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } }, signed);
  assert.equal(q.subCode, 'isv.invalid-signature');
});

test('page pay by POST form and wap pay by GET open the cashier, whose confirm pays', async () => {
  const alipay = sdk();
  // page pay: the SDK's auto-submitting form, posted as a browser would
  const out = outTradeNo('W');
  const form = alipay.pageExec('alipay.trade.page.pay', 'POST', {
    bizContent: { out_trade_no: out, total_amount: '8.80', subject: '书', product_code: 'FAST_INSTANT_TRADE_PAY' },
    returnUrl: `${base}/done`,
  });
  const action = form.match(/action="([^"]+)"/)[1].replaceAll('&amp;', '&');
  const fields = new URLSearchParams();
  for (const m of form.matchAll(/name="([^"]+)" value="([^"]*)"/g)) {
    fields.set(m[1], m[2].replaceAll('&quot;', '"').replaceAll('&amp;', '&'));
  }
  const page = await (await fetch(action, { method: 'POST', body: fields })).text();
  assert.match(page, /id=confirm/);
  const ref = page.match(/name=ref value="([^"]+)"/)[1];
  const ret = page.match(/name=return_url value="([^"]*)"/)[1];
  assert.equal(ret, `${base}/done`);
  const confirmed = await fetch(`${base}/sandbox/alipay/confirm`, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ ref, return_url: ret, action: 'confirm' }),
  });
  assert.equal(confirmed.status, 303);
  assert.equal(confirmed.headers.get('location'), `${base}/done`);
  const notice = await nextNotice((n) => n.out_trade_no === out);
  assert.equal(alipay.checkNotifySign(notice), true);

  // wap pay: the signed URL a phone browser opens
  const out2 = outTradeNo('M');
  const url = alipay.pageExec('alipay.trade.wap.pay', 'GET', {
    bizContent: { out_trade_no: out2, total_amount: '1.20', subject: '水', product_code: 'QUICK_WAP_WAY' },
  });
  const wap = await fetch(url);
  assert.equal(wap.status, 200);
  assert.match(await wap.text(), /¥1\.20/);
});
