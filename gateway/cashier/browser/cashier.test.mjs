// Browser tests of the static QR cashier (docs/cashier.md): headless
// Chromium, driven by playwright-core, against a real `paygate serve` in
// sandbox mode. Each wallet is a browser with that wallet's User-Agent and
// its own profile (one browser = one payer). Screenshots of every page go
// to ./artifacts and are checked to be more than one colour.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const artifacts = join(here, 'artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const keyID = 'key_browser_test';
const secret = 'sk_browser_' + randomBytes(16).toString('hex');
const maxPage = 60 * 1024;

// The wallets' User-Agents (docs/cashier.md lists what the cashier looks for).
const phone = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36';
const wallets = [
  { channel: 'wechat', ua: phone + ' MicroMessenger/8.0.47.2560(0x28002F36) NetType/WIFI Language/zh_CN', amount: '12.34' },
  { channel: 'alipay', ua: phone + ' AlipayClient/10.5.86.8000 Language/zh-Hans', amount: '23.45' },
  { channel: 'unionpay', ua: phone + ' UnionPay/1.0 CloudPay', amount: '34.56' },
  { channel: 'ecny', ua: phone + ' eCNY/1.2.0', amount: '45.67' },
];

let tmp, server, base;

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitReady(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url + '/readyz');
      if (r.ok) return;
    } catch {}
    if (Date.now() > end) throw new Error('paygate did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'paygate-cashier-'));
  const bin = join(tmp, 'paygate');
  execFileSync('go', ['build', '-o', bin, './cmd/paygate'], { cwd: repo, stdio: 'inherit' });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || tmp,
    PAYGATE_ADDR: `127.0.0.1:${port}`, PAYGATE_DATA_DIR: join(tmp, 'data'),
    PAYGATE_SANDBOX_KEY_ID: keyID, PAYGATE_SANDBOX_SECRET: secret, PAYGATE_LOG_LEVEL: 'warn' };
  server = spawn(bin, ['serve'], { cwd: tmp, env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitReady(base, 30000);
});

after(() => {
  if (server) server.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// api sends a signed request (the README's Signing).
async function api(method, path, body) {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(12).toString('hex');
  const bodyHash = createHash('sha256').update(raw).digest('hex');
  const sig = createHmac('sha256', secret).update(`${method}\n${path}\n${ts}\n${nonce}\n${bodyHash}`).digest('hex');
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `PAYGATE-HMAC-SHA256 key_id=${keyID},timestamp=${ts},nonce=${nonce},signature=${sig}`,
      'Content-Type': 'application/json' },
    body: raw === '' ? undefined : raw,
  });
  return { status: r.status, body: await r.json() };
}

async function createCode(params) {
  const r = await api('POST', '/v1/qr_codes', params);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

// A browser of its own: a fresh profile, a phone-sized window.
async function browser(ua) {
  const dir = mkdtempSync(join(tmpdir(), 'paygate-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    userAgent: ua,
    viewport: { width: 390, height: 844 },
    locale: 'zh-CN',
  });
  const sizes = [];
  ctx.on('response', async (resp) => {
    const type = resp.headers()['content-type'] || '';
    if (resp.url().startsWith(base) && type.startsWith('text/html') && resp.request().resourceType() === 'document') {
      try {
        sizes.push({ url: resp.url(), bytes: (await resp.body()).length });
      } catch {}
    }
  });
  const close = async () => {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
    for (const s of sizes) assert.ok(s.bytes <= maxPage, `${s.url}: ${s.bytes} bytes, more than ${maxPage}`);
  };
  const page = ctx.pages()[0] || (await ctx.newPage());
  return { ctx, page, close };
}

// shot writes a screenshot and checks it is not blank (one colour).
async function shot(b, name) {
  const png = await b.page.screenshot({ fullPage: true });
  writeFileSync(join(artifacts, name + '.png'), png);
  const probe = await b.ctx.newPage();
  const colours = await probe.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length && seen.size < 3; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  }, png.toString('base64'));
  await probe.close();
  assert.ok(colours > 1, `screenshot ${name} is blank`);
}

// pay types an amount (unless the code is fixed), pays, confirms in the
// sandbox wallet and waits for the result page; it answers the order id.
async function pay(b, codeURL, channel, amount, name) {
  const { page } = b;
  const resp = await page.goto(codeURL);
  assert.equal(resp.status(), 200);
  await page.waitForSelector('form#pay');
  if (amount !== null) await page.fill('input[name=amount]', amount);
  await shot(b, `payer-${name}`);
  await Promise.all([page.waitForURL(new RegExp(`/sandbox/${channel}/confirm`)), page.click('button[type=submit]')]);
  await page.waitForSelector('button#confirm');
  await shot(b, `confirm-${name}`);
  await Promise.all([page.waitForURL(/\/result\?order=/), page.click('button#confirm')]);
  await page.waitForSelector('#result[data-status="succeeded"]', { timeout: 20000 });
  await shot(b, `result-${name}`);
  return new URL(page.url()).searchParams.get('order');
}

async function expectOrder(id, code, channel, amount) {
  const o = (await api('GET', `/v1/orders/${id}`)).body;
  assert.equal(o.status, 'succeeded');
  assert.equal(o.channel, channel);
  assert.equal(o.method, 'jsapi');
  assert.equal(o.amount, amount);
  assert.equal(o.source, 'static_qr');
  assert.equal(o.qr_code_id, code.id);
  // The fee is what routing quotes for the payment.
  const q = await api('POST', '/v1/routes/quote', { amount, subject: 'x', method: 'jsapi', channel, payer_id: 'quote' });
  assert.equal(q.status, 200, JSON.stringify(q.body));
  assert.equal(o.fee, q.body.fee);
  const expected = { wechat: Math.round(amount * 0.006), alipay: Math.round(amount * 0.006), ecny: 0 }[channel];
  if (expected !== undefined) assert.equal(o.fee, expected);
  assert.equal(o.net_amount, amount - o.fee);
  return o;
}

for (const w of wallets) {
  test(`pay a printed code in ${w.channel}`, async () => {
    const code = await createCode({ store_name: '浏览器测试店', terminal_id: 'T0001' });
    const b = await browser(w.ua);
    try {
      const id = await pay(b, code.url, w.channel, w.amount, w.channel);
      await expectOrder(id, code, w.channel, Math.round(Number(w.amount) * 100));
    } finally {
      await b.close();
    }
  });
}

test('another browser is told which apps can pay', async () => {
  const code = await createCode({ store_name: '其他浏览器' });
  const b = await browser(phone);
  try {
    const resp = await b.page.goto(code.url);
    assert.equal(resp.status(), 200);
    const text = await b.page.textContent('#other');
    assert.ok(text.length > 0);
    const body = await b.page.textContent('body');
    for (const app of ['微信', '支付宝', '云闪付', '数字人民币']) assert.ok(body.includes(app), app);
    assert.equal(await b.page.locator('form#pay').count(), 0);
    await shot(b, 'other-browser');
  } finally {
    await b.close();
  }
});

test('a fixed-amount code', async () => {
  const code = await createCode({ store_name: '定额店', amount: 1500, description: '套餐 A' });
  const b = await browser(wallets[0].ua);
  try {
    await b.page.goto(code.url);
    assert.ok((await b.page.textContent('form#pay')).includes('15.00'));
    const id = await pay(b, code.url, 'wechat', null, 'fixed-amount');
    await expectOrder(id, code, 'wechat', 1500);
  } finally {
    await b.close();
  }
});

test('a deactivated code', async () => {
  const code = await createCode({ store_name: '停用店' });
  const d = await api('POST', `/v1/qr_codes/${code.id}/deactivate`);
  assert.equal(d.status, 200);
  assert.equal(d.body.active, false);
  const b = await browser(wallets[1].ua);
  try {
    const resp = await b.page.goto(code.url);
    assert.equal(resp.status(), 410);
    assert.ok((await b.page.textContent('#gone')).includes('已停用'));
    await shot(b, 'deactivated');
  } finally {
    await b.close();
  }
});

test('the static QR limit: 500.00 per payer per day', async () => {
  const code = await createCode({ store_name: '限额店' });
  const b = await browser(wallets[1].ua);
  try {
    const first = await pay(b, code.url, 'alipay', '300.00', 'limit-first');
    await expectOrder(first, code, 'alipay', 30000);
    await b.page.goto(code.url);
    await b.page.fill('input[name=amount]', '300.00');
    await Promise.all([b.page.waitForLoadState('load'), b.page.click('button[type=submit]')]);
    await b.page.waitForSelector('#error');
    const reason = await b.page.textContent('#error');
    assert.ok(reason.includes('500.00'), reason);
    assert.equal(await b.page.locator('form#pay').count(), 1);
    await shot(b, 'limit-declined');
    const orders = (await api('GET', '/v1/orders?limit=100')).body.data.filter((o) => o.qr_code_id === code.id);
    assert.equal(orders.length, 1);
  } finally {
    await b.close();
  }
});
