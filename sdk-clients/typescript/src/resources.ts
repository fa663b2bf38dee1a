import type { Paygate, RequestOptions } from './client.js';
import type {
  ActivatedTerminal, Discrepancy, Event, EventListParams, List, Order, OrderListParams, OrderParams, QRCode,
  QRCodeParams, Quote, Reconciliation, ReconciliationParams, Refund, RefundParams, Statement, Terminal,
  TerminalParams,
} from './types.js';

type Query = Record<string, string | number | undefined | null>;

const enc = encodeURIComponent;

/** An async iterable over every item of a list, fetching pages as needed. */
function paginate<T>(pg: Paygate, path: string, filters: Query = {}): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const query: Query = { ...filters };
      for (;;) {
        const page = await pg.request<List<T>>({ method: 'GET', path, query });
        for (const item of page.data) yield item;
        if (!page.next_cursor || page.data.length === 0) return;
        query.cursor = page.next_cursor;
      }
    },
  };
}

abstract class Resource {
  constructor(protected readonly pg: Paygate) {}
}

export class Orders extends Resource {
  /** Creates an order and drives its payment. */
  create(params: OrderParams, opts: RequestOptions = {}): Promise<Order> {
    return this.pg.request({ method: 'POST', path: '/v1/orders', body: params, idempotencyKey: opts.idempotencyKey });
  }
  retrieve(id: string): Promise<Order> {
    return this.pg.request({ method: 'GET', path: `/v1/orders/${enc(id)}` });
  }
  /** Every order matching the filters, newest first: `for await (const o of pg.orders.list({...}))`. */
  list(params: OrderListParams = {}): AsyncIterable<Order> {
    return paginate<Order>(this.pg, '/v1/orders', params as Query);
  }
  listPage(params: OrderListParams & { cursor?: string } = {}): Promise<List<Order>> {
    return this.pg.request({ method: 'GET', path: '/v1/orders', query: params as Query });
  }
  close(id: string, opts: RequestOptions = {}): Promise<Order> {
    return this.pg.request({ method: 'POST', path: `/v1/orders/${enc(id)}/close`, body: {}, idempotencyKey: opts.idempotencyKey });
  }
  cancel(id: string, opts: RequestOptions = {}): Promise<Order> {
    return this.pg.request({ method: 'POST', path: `/v1/orders/${enc(id)}/cancel`, body: {}, idempotencyKey: opts.idempotencyKey });
  }
  capture(id: string, params: { amount?: number } = {}, opts: RequestOptions = {}): Promise<Order> {
    return this.pg.request({ method: 'POST', path: `/v1/orders/${enc(id)}/capture`, body: params, idempotencyKey: opts.idempotencyKey });
  }
}

export class Refunds extends Resource {
  create(orderId: string, params: RefundParams, opts: RequestOptions = {}): Promise<Refund> {
    return this.pg.request({ method: 'POST', path: `/v1/orders/${enc(orderId)}/refunds`, body: params, idempotencyKey: opts.idempotencyKey });
  }
  retrieve(id: string): Promise<Refund> {
    return this.pg.request({ method: 'GET', path: `/v1/refunds/${enc(id)}` });
  }
}

export class Routes extends Resource {
  /** Which provider would take the payment, at what fee, and why; nothing is written. */
  quote(params: OrderParams, opts: RequestOptions = {}): Promise<Quote> {
    return this.pg.request({ method: 'POST', path: '/v1/routes/quote', body: params, idempotencyKey: opts.idempotencyKey });
  }
  create(params: OrderParams, opts: RequestOptions = {}): Promise<Quote> { return this.quote(params, opts); }
}

export class Events extends Resource {
  list(params: EventListParams = {}): AsyncIterable<Event> {
    return paginate<Event>(this.pg, '/v1/events', params as Query);
  }
  retrieve(id: string): Promise<Event> {
    return this.pg.request({ method: 'GET', path: `/v1/events/${enc(id)}` });
  }
  redeliver(id: string, opts: RequestOptions = {}): Promise<Event> {
    return this.pg.request({ method: 'POST', path: `/v1/events/${enc(id)}/redeliver`, body: {}, idempotencyKey: opts.idempotencyKey });
  }
}

export class Terminals extends Resource {
  create(params: TerminalParams, opts: RequestOptions = {}): Promise<Terminal> {
    return this.pg.request({ method: 'POST', path: '/v1/terminals', body: params, idempotencyKey: opts.idempotencyKey });
  }
  retrieve(id: string): Promise<Terminal> {
    return this.pg.request({ method: 'GET', path: `/v1/terminals/${enc(id)}` });
  }
  deactivate(id: string, opts: RequestOptions = {}): Promise<Terminal> {
    return this.pg.request({ method: 'POST', path: `/v1/terminals/${enc(id)}/deactivate`, body: {}, idempotencyKey: opts.idempotencyKey });
  }
  newActivationCode(id: string, params: { activation_expires_in?: number } = {}, opts: RequestOptions = {}): Promise<Terminal> {
    return this.pg.request({ method: 'POST', path: `/v1/terminals/${enc(id)}/activation_code`, body: params, idempotencyKey: opts.idempotencyKey });
  }
  /** Exchanges an activation code for the terminal's own key; needs no API key. */
  activate(activationCode: string, opts: RequestOptions = {}): Promise<ActivatedTerminal> {
    return this.pg.request({ method: 'POST', path: '/v1/terminals/activate', body: { activation_code: activationCode }, idempotencyKey: opts.idempotencyKey });
  }
}

export class QRCodes extends Resource {
  create(params: QRCodeParams, opts: RequestOptions = {}): Promise<QRCode> {
    return this.pg.request({ method: 'POST', path: '/v1/qr_codes', body: params, idempotencyKey: opts.idempotencyKey });
  }
  retrieve(id: string): Promise<QRCode> {
    return this.pg.request({ method: 'GET', path: `/v1/qr_codes/${enc(id)}` });
  }
  list(params: { limit?: number } = {}): AsyncIterable<QRCode> {
    return paginate<QRCode>(this.pg, '/v1/qr_codes', params as Query);
  }
  deactivate(id: string, opts: RequestOptions = {}): Promise<QRCode> {
    return this.pg.request({ method: 'POST', path: `/v1/qr_codes/${enc(id)}/deactivate`, body: {}, idempotencyKey: opts.idempotencyKey });
  }
}

export class Reconciliations extends Resource {
  /** Runs a day's reconciliation now: the run, or a list of runs when several providers ran. */
  create(params: ReconciliationParams, opts: RequestOptions = {}): Promise<Reconciliation | List<Reconciliation>> {
    return this.pg.request({ method: 'POST', path: '/v1/reconciliations', body: params, idempotencyKey: opts.idempotencyKey });
  }
  retrieve(id: string): Promise<Reconciliation> {
    return this.pg.request({ method: 'GET', path: `/v1/reconciliations/${enc(id)}` });
  }
  list(params: { date?: string; limit?: number } = {}): AsyncIterable<Reconciliation> {
    return paginate<Reconciliation>(this.pg, '/v1/reconciliations', params as Query);
  }
  discrepancies(runId: string, params: { limit?: number } = {}): AsyncIterable<Discrepancy> {
    return paginate<Discrepancy>(this.pg, `/v1/reconciliations/${enc(runId)}/discrepancies`, params as Query);
  }
}

export class Discrepancies extends Resource {
  resolve(id: string, params: { note: string }, opts: RequestOptions = {}): Promise<Discrepancy> {
    return this.pg.request({ method: 'POST', path: `/v1/discrepancies/${enc(id)}/resolve`, body: params, idempotencyKey: opts.idempotencyKey });
  }
}

export class Statements extends Resource {
  /** The day's statement as JSON (amounts in fen). */
  retrieve(date: string): Promise<Statement> {
    return this.pg.request({ method: 'GET', path: `/v1/statements/${enc(date)}`, query: { format: 'json' } });
  }
  /** The day's statement file: csv (UTF-8 with BOM) or xlsx. */
  download(date: string, format: 'csv' | 'xlsx' = 'csv'): Promise<Uint8Array> {
    return this.pg.requestBytes({ method: 'GET', path: `/v1/statements/${enc(date)}`, query: { format } });
  }
}
