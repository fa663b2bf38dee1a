export { Paygate, sign, VERSION, MAX_RETRY_AFTER } from './client.js';
export type { PaygateOptions, RequestOptions } from './client.js';
export {
  PaygateError, APIConnectionError, WebhookSignatureError, MissingSignatureError, MalformedSignatureError,
  StaleTimestampError, InvalidSignatureError,
} from './errors.js';
export { webhooks, SIGNATURE_HEADER, DEFAULT_TOLERANCE } from './webhooks.js';
export type * from './types.js';
export { Paygate as default } from './client.js';
