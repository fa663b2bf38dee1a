// A real `paygate serve` in sandbox mode for the tests: built from this
// repository, on a free loopback port, with its own data directory.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KEY_ID = 'key_sdk_ts_test';
export const SECRET = 'sk_test_sdk_ts_0123456789abcdef0123456789';
export const WEBHOOK_SECRET = 'whsec_sdk_ts_0123456789abcdef';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

export async function startGateway() {
  const work = mkdtempSync(join(tmpdir(), 'paygate-sdk-ts-'));
  const bin = join(work, 'paygate');
  execFileSync('go', ['build', '-o', bin, './cmd/paygate'], { cwd: root, stdio: 'inherit' });
  const addr = `127.0.0.1:${await freePort()}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PAYGATE_')));
  Object.assign(env, {
    PAYGATE_ADDR: addr, PAYGATE_DATA_DIR: join(work, 'data'), PAYGATE_SANDBOX_KEY_ID: KEY_ID,
    PAYGATE_SANDBOX_SECRET: SECRET, PAYGATE_SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET, PAYGATE_PUBLIC_URL: `http://${addr}`,
  });
  const log = openSync(join(work, 'serve.log'), 'w');
  const proc = spawn(bin, ['serve'], { cwd: work, env, stdio: ['ignore', log, log] });
  const url = `http://${addr}`;
  const stop = async () => {
    proc.kill('SIGTERM');
    await new Promise((r) => { if (proc.exitCode !== null) r(); else proc.once('exit', r); setTimeout(r, 10000).unref(); });
    rmSync(work, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) return { url, stop };
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const out = readFileSync(join(work, 'serve.log'), 'utf8');
  await stop();
  throw new Error('paygate serve did not become healthy:\n' + out);
}

// A proxy between the SDK and the gateway, like an unstable network: each
// request, following the script, is forwarded ('forward'), forwarded with
// the connection dropped before the answer gets back ('drop'), or answered
// '429' (Retry-After: 1), '502' or '503' by the proxy. Past the script:
// forwarded.
export async function startProxy(upstream, script = [], port = 0) {
  const u = new URL(upstream);
  const exchanges = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const step = script.length ? script.shift() : 'forward';
      const ex = { method: req.method, path: req.url, idempotencyKey: req.headers['idempotency-key'], step, status: 0, body: Buffer.alloc(0) };
      if (step === '429' || step === '502' || step === '503') {
        exchanges.push(ex);
        const err = JSON.stringify({ error: { code: step === '429' ? 'rate_limited' : 'service_unavailable', message: 'try again', request_id: 'req_proxy' } });
        const headers = { 'Content-Type': 'application/json' };
        if (step === '429') headers['Retry-After'] = '1';
        res.writeHead(Number(step), headers).end(err);
        return;
      }
      const headers = { ...req.headers };
      delete headers.host; delete headers.connection;
      const up = http.request({ host: u.hostname, port: u.port, method: req.method, path: req.url, headers, agent }, (ur) => {
        const rc = [];
        ur.on('data', (c) => rc.push(c));
        ur.on('end', () => {
          ex.status = ur.statusCode; ex.body = Buffer.concat(rc);
          exchanges.push(ex);
          if (step === 'drop') { req.socket.destroy(); return; }
          const h = { ...ur.headers }; delete h['transfer-encoding']; delete h.connection;
          h['content-length'] = String(ex.body.length);
          res.writeHead(ur.statusCode, h).end(ex.body);
        });
      });
      up.on('error', () => req.socket.destroy());
      up.end(body);
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    exchanges,
    close: () => { server.closeAllConnections(); agent.destroy(); return new Promise((r) => server.close(() => r())); },
  };
}

export function orderNo() {
  return 'SDKTS-' + Math.random().toString(16).slice(2) + Date.now().toString(16);
}

// A WeChat payment code whose last four digits pick no sandbox scenario.
export function wechatCode() {
  let s = '13';
  for (let i = 0; i < 16; i++) s += Math.floor(Math.random() * 10);
  const last = s.slice(-4);
  if (new Set(last).size === 1) s = s.slice(0, -4) + '1234';
  return s;
}

export function luhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return digits + ((10 - (sum % 10)) % 10);
}

export function emv(pan) {
  const p = pan.length % 2 ? pan + 'F' : pan;
  return '5A' + (p.length / 2).toString(16).toUpperCase().padStart(2, '0') + p + '5F2403301231';
}

export function cstToday() {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
}
