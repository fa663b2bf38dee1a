import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  InvalidSignatureError, MalformedSignatureError, MissingSignatureError, StaleTimestampError,
} from './errors.js';
import type { Event } from './types.js';

export const SIGNATURE_HEADER = 'Paygate-Signature';
export const DEFAULT_TOLERANCE = 300;

function mac(secret: string, timestamp: string, payload: Buffer): string {
  return createHmac('sha256', secret).update(timestamp + '.').update(payload).digest('hex');
}

function toBuffer(payload: string | Uint8Array): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
}

/** Verifies the webhooks paygate sends. */
export const webhooks = {
  SIGNATURE_HEADER,
  DEFAULT_TOLERANCE,

  /** Verifies the Paygate-Signature header against the raw body (as
   * received, before JSON parsing) and the secret, or several secrets
   * during a rotation, within `tolerance` seconds of now; returns the
   * event. */
  constructEvent(payload: string | Uint8Array, header: string | null | undefined, secret: string | string[],
    tolerance = DEFAULT_TOLERANCE): Event {
    const body = toBuffer(payload);
    webhooks.verify(body, header, secret, { tolerance });
    return JSON.parse(body.toString('utf8')) as Event;
  },

  /** Checks the signature alone; throws a WebhookSignatureError. */
  verify(payload: string | Uint8Array, header: string | null | undefined, secret: string | string[],
    opts: { tolerance?: number; now?: number } = {}): void {
    const body = toBuffer(payload);
    const secrets = typeof secret === 'string' ? [secret] : secret;
    const tolerance = opts.tolerance && opts.tolerance > 0 ? opts.tolerance : DEFAULT_TOLERANCE;
    if (header == null || header.trim() === '') throw new MissingSignatureError();
    let timestamp: string | null = null;
    const signatures: string[] = [];
    for (const part of header.split(',')) {
      const i = part.trim().indexOf('=');
      if (i < 0) throw new MalformedSignatureError();
      const key = part.trim().slice(0, i);
      const value = part.trim().slice(i + 1);
      if (key === 't') timestamp = value;
      else if (key === 'v1') signatures.push(value);
    }
    if (timestamp === null || signatures.length === 0 || !/^-?\d+$/.test(timestamp)) {
      throw new MalformedSignatureError('Paygate-Signature header lacks t or v1');
    }
    const now = opts.now ?? Date.now() / 1000;
    if (Math.abs(now - Number(timestamp)) > tolerance) throw new StaleTimestampError(tolerance);
    for (const s of secrets) {
      const want = Buffer.from(mac(s, timestamp, body));
      for (const got of signatures) {
        const g = Buffer.from(got);
        if (g.length === want.length && timingSafeEqual(g, want)) return;
      }
    }
    throw new InvalidSignatureError();
  },

  /** The header a webhook of payload carries at timestamp (for tests). */
  sign(payload: string | Uint8Array, timestamp: number, secrets: string | string[]): string {
    const body = toBuffer(payload);
    const ts = String(Math.trunc(timestamp));
    const list = typeof secrets === 'string' ? [secrets] : secrets;
    return 't=' + ts + list.map((s) => ',v1=' + mac(s, ts, body)).join('');
  },
};
