import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Paygate, InvalidSignatureError, MalformedSignatureError, MissingSignatureError, StaleTimestampError,
  WebhookSignatureError,
} from '../dist/index.js';

const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'order.succeeded', created_at: '2026-12-01T00:00:00Z',
  data: { object: { id: 'ord_1', status: 'succeeded' } } });
const secret = 'whsec_test_a';
const now = () => Math.floor(Date.now() / 1000);

test('a valid webhook, secrets in rotation', () => {
  const e = Paygate.webhooks.constructEvent(body, Paygate.webhooks.sign(body, now(), secret), ['whsec_other', secret]);
  assert.equal(e.id, 'evt_1');
  assert.equal(e.data.object.status, 'succeeded');
});

test('each failure has its own error', () => {
  const good = Paygate.webhooks.sign(body, now(), secret);
  const cases = [
    ['wrong secret', body, good, 'whsec_wrong', InvalidSignatureError],
    ['modified body', body.replace('succeeded', 'failed'), good, secret, InvalidSignatureError],
    ['outside the tolerance', body, Paygate.webhooks.sign(body, now() - 301, secret), secret, StaleTimestampError],
    ['missing header', body, undefined, secret, MissingSignatureError],
    ['malformed header', body, 'garbage', secret, MalformedSignatureError],
  ];
  const kinds = [InvalidSignatureError, StaleTimestampError, MissingSignatureError, MalformedSignatureError];
  for (const [name, b, h, s, want] of cases) {
    assert.throws(() => Paygate.webhooks.constructEvent(b, h, s), (err) => {
      assert.ok(err instanceof want && err instanceof WebhookSignatureError, name);
      for (const k of kinds) if (k !== want) assert.ok(!(err instanceof k), `${name}: also ${k.name}`);
      return true;
    });
  }
});

test('custom tolerance', () => {
  const h = Paygate.webhooks.sign(body, now() - 600, secret);
  assert.equal(Paygate.webhooks.constructEvent(body, h, secret, 900).id, 'evt_1');
});
