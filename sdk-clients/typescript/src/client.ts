import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { APIConnectionError, PaygateError } from './errors.js';
import * as r from './resources.js';
import { webhooks } from './webhooks.js';

export const VERSION = '0.1.0';

export interface PaygateOptions {
  keyId?: string;
  secret?: string;
  /** The gateway's address, e.g. `https://pay.example.com`. */
  baseUrl?: string;
  /** Retries of a failed request (default 2; 0: never). */
  maxRetries?: number;
  /** Bound of one attempt in ms (default 130 000: above the longest wait_seconds). */
  timeout?: number;
  /** First retry's wait in ms (default 500), doubling up to maxBackoff (default 5 000). */
  initialBackoff?: number;
  maxBackoff?: number;
  /** A fetch implementation for runtimes other than Node (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Appended to the SDK's User-Agent. */
  userAgent?: string;
}

export interface RequestOptions {
  /** The Idempotency-Key of a POST instead of a generated one (1-255 characters). */
  idempotencyKey?: string;
}

/** The longest Retry-After honoured before a retry, in ms. */
export const MAX_RETRY_AFTER = 60_000;

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Returns the Authorization header of a request:
 * hex(HMAC-SHA256(secret, METHOD\nPATH_AND_QUERY\ntimestamp\nnonce\nhex(SHA256(body)))). */
export function sign(keyId: string, secret: string, method: string, pathAndQuery: string, timestamp: number,
  nonce: string, body: string | Uint8Array = ''): string {
  const digest = createHash('sha256').update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body).digest('hex');
  const signature = createHmac('sha256', secret)
    .update([method, pathAndQuery, String(timestamp), nonce, digest].join('\n'), 'utf8').digest('hex');
  return `PAYGATE-HMAC-SHA256 key_id=${keyId},timestamp=${timestamp},nonce=${nonce},signature=${signature}`;
}

interface Call {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined | null>;
  body?: unknown;
  idempotencyKey?: string;
}

/** A client of the paygate API. */
export class Paygate {
  static readonly webhooks = webhooks;
  static readonly VERSION = VERSION;

  readonly orders: r.Orders;
  readonly refunds: r.Refunds;
  readonly routes: r.Routes;
  readonly quotes: r.Routes;
  readonly events: r.Events;
  readonly terminals: r.Terminals;
  readonly qrCodes: r.QRCodes;
  readonly reconciliations: r.Reconciliations;
  readonly discrepancies: r.Discrepancies;
  readonly statements: r.Statements;

  readonly baseUrl: string;
  readonly maxRetries: number;
  readonly timeout: number;
  readonly initialBackoff: number;
  readonly maxBackoff: number;
  readonly userAgent: string;
  readonly #keyId: string;
  readonly #secret: string;
  readonly #fetch: typeof fetch;

  constructor(opts: PaygateOptions = {}) {
    this.#keyId = opts.keyId ?? '';
    this.#secret = opts.secret ?? '';
    this.baseUrl = (opts.baseUrl ?? 'http://localhost:8080').replace(/\/+$/, '');
    this.maxRetries = Math.max(0, opts.maxRetries ?? 2);
    this.timeout = opts.timeout ?? 130_000;
    this.initialBackoff = opts.initialBackoff ?? 500;
    this.maxBackoff = opts.maxBackoff ?? 5_000;
    this.userAgent = `paygate-node/${VERSION}` + (opts.userAgent ? ' ' + opts.userAgent : '');
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.orders = new r.Orders(this);
    this.refunds = new r.Refunds(this);
    this.routes = new r.Routes(this);
    this.quotes = this.routes;
    this.events = new r.Events(this);
    this.terminals = new r.Terminals(this);
    this.qrCodes = new r.QRCodes(this);
    this.reconciliations = new r.Reconciliations(this);
    this.discrepancies = new r.Discrepancies(this);
    this.statements = new r.Statements(this);
  }

  /** Never the secret. */
  toJSON(): object { return { keyId: this.#keyId, baseUrl: this.baseUrl }; }

  /** Sends one API call with retries and returns the decoded JSON answer. */
  async request<T>(call: Call): Promise<T> {
    const res = await this.#send(call);
    return (res.body.byteLength ? JSON.parse(decoder.decode(res.body)) : null) as T;
  }

  /** Like request, for an answer read as bytes (statement files). */
  async requestBytes(call: Call): Promise<Uint8Array> {
    return new Uint8Array((await this.#send(call)).body);
  }

  async #send(call: Call): Promise<Answer> {
    let path = call.path;
    if (call.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(call.query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
      const s = q.toString();
      if (s) path += '?' + s;
    }
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const key = call.method === 'POST' ? (call.idempotencyKey ?? 'pgsdk_' + randomBytes(16).toString('hex')) : undefined;
    for (let attempt = 0; ; attempt++) {
      let res: Answer;
      try {
        res = await this.#attempt(call.method, path, body, key);
      } catch (err) {
        if (attempt >= this.maxRetries) throw err;
        await sleep(this.#backoff(attempt, null));
        continue;
      }
      if (res.status < 300) return res;
      const error = apiError(res, decoder.decode(res.body));
      if (attempt >= this.maxRetries || !retryable(error)) throw error;
      await sleep(this.#backoff(attempt, res.headers.get('retry-after')));
    }
  }

  async #attempt(method: string, path: string, body: string | undefined, key: string | undefined): Promise<Answer> {
    const url = new URL(this.baseUrl + path);
    const headers: Record<string, string> = {
      Authorization: sign(this.#keyId, this.#secret, method, url.pathname + url.search, Math.floor(Date.now() / 1000),
        randomBytes(16).toString('hex'), body ?? ''),
      'User-Agent': this.userAgent,
      Accept: 'application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (key) headers['Idempotency-Key'] = key;
    try {
      // The whole attempt, answer included, within the timeout.
      const signal = AbortSignal.timeout(this.timeout);
      const res = await this.#fetch(url, { method, headers, body, redirect: 'manual', signal });
      return { status: res.status, statusText: res.statusText, headers: res.headers, body: await res.arrayBuffer() };
    } catch (err) {
      throw new APIConnectionError(`${method} ${path}: ${(err as Error)?.message ?? err}`, { cause: err });
    }
  }

  #backoff(attempt: number, retryAfter: string | null): number {
    const ra = parseRetryAfter(retryAfter);
    if (ra !== null) return Math.min(ra, MAX_RETRY_AFTER);
    const d = Math.min(this.initialBackoff * 2 ** attempt, this.maxBackoff);
    return d / 2 + randomInt(0, Math.max(1, Math.floor(d / 2)) + 1);
  }
}

function retryable(err: PaygateError): boolean {
  return RETRY_STATUSES.has(err.status) || (err.status === 409 && err.code === 'idempotency_key_in_use');
}

function parseRetryAfter(v: string | null): number | null {
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}

/** An HTTP answer read whole within the attempt's timeout. */
interface Answer {
  status: number;
  statusText: string;
  headers: Headers;
  body: ArrayBuffer;
}

const decoder = new TextDecoder();

function apiError(res: Answer, text: string): PaygateError {
  const requestId = res.headers.get('request-id');
  try {
    const e = JSON.parse(text).error;
    if (e && e.code) {
      return new PaygateError(res.status, e.code, e.message ?? '', e.param ?? null, e.request_id ?? requestId, res.headers);
    }
  } catch { /* not the API's error shape */ }
  return new PaygateError(res.status, `http_${res.status}`, res.statusText || 'unexpected answer', null, requestId, res.headers);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
