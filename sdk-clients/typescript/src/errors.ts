/** An API answer other than 2xx. */
export class PaygateError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Stable error code, e.g. `refund_exceeds_amount`. */
  readonly code: string;
  /** The request parameter at fault, if any. */
  readonly param: string | null;
  /** The gateway's id of the request: give it to support. */
  readonly requestId: string | null;
  readonly headers: Headers | null;

  constructor(status: number, code: string, message: string, param: string | null, requestId: string | null,
    headers: Headers | null = null) {
    // message is the API's own message; toString() adds status and code.
    super(message);
    this.name = 'PaygateError';
    this.status = status;
    this.code = code;
    this.param = param;
    this.requestId = requestId;
    this.headers = headers;
  }

  override toString(): string {
    let text = `PaygateError: ${this.status} ${this.code}: ${this.message}`;
    if (this.param) text += ` (param ${this.param})`;
    if (this.requestId) text += ` [${this.requestId}]`;
    return text;
  }
}

/** No HTTP answer came (refused, reset, timed out). The request may have
 * reached the gateway; a retry with the same idempotency key is safe. */
export class APIConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'APIConnectionError';
  }
}

/** A webhook that failed verification. `code` is the gateway's error code
 * (`invalid_signature` or `stale_timestamp`); the subclass tells the cases
 * apart. */
export class WebhookSignatureError extends Error {
  readonly code: string;
  constructor(message: string, code = 'invalid_signature') {
    super(message);
    this.name = 'WebhookSignatureError';
    this.code = code;
  }
}

/** No Paygate-Signature header. */
export class MissingSignatureError extends WebhookSignatureError {
  constructor() { super('no Paygate-Signature header'); this.name = 'MissingSignatureError'; }
}

/** The header is not t=...,v1=... */
export class MalformedSignatureError extends WebhookSignatureError {
  constructor(message = 'malformed Paygate-Signature header') { super(message); this.name = 'MalformedSignatureError'; }
}

/** The timestamp is further from now than the tolerance. */
export class StaleTimestampError extends WebhookSignatureError {
  constructor(tolerance: number) {
    super(`webhook timestamp is outside the tolerance of ${tolerance} s`, 'stale_timestamp');
    this.name = 'StaleTimestampError';
  }
}

/** No signature matches the secrets and the body: a wrong secret or a
 * modified body (the two cannot be told apart). */
export class InvalidSignatureError extends WebhookSignatureError {
  constructor() { super('no signature matches the secrets and body'); this.name = 'InvalidSignatureError'; }
}
