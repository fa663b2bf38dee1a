// The shared vectors (sdk-clients/testdata) keep the SDKs and the gateway in
// step: a change of the signing rule breaks all of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Paygate, sign } from '../dist/index.js';

const load = (name) => JSON.parse(readFileSync(new URL(`../../testdata/${name}`, import.meta.url), 'utf8')).vectors;

test('request vectors', () => {
  for (const v of load('request_vectors.json')) {
    assert.equal(sign(v.key_id, v.secret, v.method, v.path_and_query, v.timestamp, v.nonce, v.body), v.authorization, v.name);
  }
});

test('webhook vectors', () => {
  for (const v of load('webhook_vectors.json')) {
    if (!v.error && v.name !== 'unknown scheme ignored' && v.name !== 'spaces after commas') {
      assert.equal(Paygate.webhooks.sign(v.body, v.timestamp, v.secrets), v.header, v.name);
    }
    let got = '';
    try {
      Paygate.webhooks.verify(v.body, v.header, v.verify_secrets, { tolerance: v.tolerance_seconds, now: v.now });
    } catch (e) {
      got = e.code;
    }
    assert.equal(got, v.error, v.name);
  }
});
