/** API objects, as the API's JSON names them. Amounts are integers in fen. */

export interface Failure { code: string; message: string }

export interface RouteCandidate {
  provider: string; channel: string; fee: number; rule?: string; eligible: boolean; reason: string;
}

export interface RiskDecision { rule: string; action: string; reason: string }

export interface Route {
  provider: string; channel: string; fee_rate: string; fee_cap: number | null; fee: number; rule: string;
  candidates: RouteCandidate[]; risk?: RiskDecision[];
}

export interface Order {
  object: 'order';
  id: string;
  merchant_id: string;
  merchant_order_no: string;
  status: string;
  amount: number;
  currency: string;
  subject: string;
  method: string;
  channel: string;
  provider: string;
  channel_trade_no: string;
  fee: number;
  net_amount: number;
  route: Route | null;
  qr_code: string | null;
  qr_png_url?: string | null;
  /** What the page or app needs to invoke the wallet (jsapi, h5, app, web). */
  credential: Record<string, unknown> | null;
  card?: { entry_mode?: string; type?: string; network?: string; bin?: string; last4?: string };
  terminal_id?: string;
  location?: { region_code: string };
  capture?: string;
  authorized_amount?: number;
  refunded_amount: number;
  failure: Failure | null;
  notify_url?: string;
  payer_id?: string;
  created_at: string;
  updated_at: string;
  paid_at: string | null;
  expires_at: string | null;
  metadata: Record<string, string> | null;
  [extra: string]: unknown;
}

export interface Refund {
  object: 'refund'; id: string; merchant_id: string; order_id: string; merchant_refund_no: string;
  status: string; amount: number; currency: string; reason: string; provider: string;
  channel_refund_no: string; failure: Failure | null; created_at: string; updated_at: string;
  succeeded_at: string | null;
}

export interface Quote {
  object: 'quote'; provider: string; channel: string; fee: number; net_amount: number; route: Route;
}

export interface DeliveryAttempt {
  attempt: number; at: string; status_code: number; latency_ms: number; error?: string; response_excerpt?: string;
}

export interface Event {
  object: 'event'; id: string; type: string; created_at: string;
  data: { object: Order | Refund | Record<string, unknown> };
  delivery_status?: string; attempts?: DeliveryAttempt[];
}

export interface Terminal {
  object: 'terminal'; id: string; merchant_id: string; terminal_id: string; serial_no: string; model: string;
  region_code: string; status: string; key_id?: string; created_at: string; activated_at: string | null;
  deactivated_at: string | null; activation_code?: string; activation_expires_at?: string;
}

/** The answer of activation: the terminal with its own key; the secret is shown once. */
export interface ActivatedTerminal extends Terminal { key_secret: string }

export interface QRCode {
  object: 'qr_code'; id: string; url: string; png_url: string; store_name: string; terminal_id?: string;
  merchant_id: string; amount: number | null; description: string; active: boolean; created_at: string;
  deactivated_at: string | null;
  [extra: string]: unknown;
}

export interface ReconcileSide { count: number; amount: number }

export interface Reconciliation {
  object: 'reconciliation'; id: string; provider: string; date: string; status: string; failure: Failure | null;
  paygate: ReconcileSide; channel: ReconcileSide; outcomes: Record<string, number>; bill_sha1: string;
  started_at: string | null; finished_at: string | null;
}

export interface Discrepancy {
  object: 'discrepancy'; id: string; outcome: string; order_id: string | null; refund_id: string | null;
  paygate: Record<string, unknown> | null; channel: Record<string, unknown> | null;
  resolution: 'open' | 'repaired' | 'accepted'; note: string;
}

export interface StatementTotals { count: number; amount: number; fee: number; net_amount: number }

export interface StatementLine {
  type: 'payment' | 'refund'; order_id: string; refund_id: string | null; merchant_order_no: string;
  channel_trade_no: string; channel: string; provider: string; method: string; rule: string;
  terminal_id: string; time: string; amount: number; fee: number; net_amount: number; reconciliation: string;
}

export interface Statement {
  object: 'statement'; merchant_id: string; date: string; lines: StatementLine[]; totals: StatementTotals;
  by_channel: Record<string, StatementTotals>; routing_savings: number;
}

export interface List<T> { object: 'list'; data: T[]; next_cursor: string | null }

/** POST /v1/orders (and /v1/routes/quote). */
export interface OrderParams {
  merchant_order_no: string;
  amount: number;
  currency?: string;
  subject: string;
  method: 'auth_code' | 'qr' | 'card' | 'jsapi' | 'h5' | 'app' | 'web' | string;
  auth_code?: string;
  channel?: string | null;
  card?: { entry_mode: string; type?: string; network?: string; emv?: string; token?: string };
  terminal_id?: string;
  location?: { region_code: string };
  capture?: 'automatic' | 'manual';
  expires_in?: number;
  wait_seconds?: number;
  notify_url?: string;
  metadata?: Record<string, string>;
  payer_id?: string;
  client_ip?: string;
}

export interface OrderListParams {
  merchant_order_no?: string; status?: string; created_from?: string; created_to?: string; limit?: number;
}

export interface RefundParams { merchant_refund_no: string; amount: number; reason?: string }

export interface TerminalParams {
  terminal_id: string; serial_no?: string; model?: string; region_code: string; activation_expires_in?: number;
}

export interface QRCodeParams { store_name: string; terminal_id?: string; amount?: number; description?: string }

export interface EventListParams { order_id?: string; type?: string; limit?: number }

export interface ReconciliationParams { date: string; provider?: string }
