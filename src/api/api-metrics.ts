import type { Middleware, ParameterizedContext } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The API's Prometheus metrics: requests by route template (never the raw path, which holds job and user ids) and
 * status, their latency, and the Node process's own figures. Served at `GET /metrics` to operators.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'transcription_api_' });
    this.requests = new Counter({
      name: 'transcription_api_requests_total',
      help: 'HTTP requests answered, by route template, method and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'transcription_api_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template and method.',
      labelNames: ['method', 'route'],
      // From a cached answer to a 15 s long-poll.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers: [this.registry],
    });
  }

  /** Counts and times every request; outermost, so errors and early refusals are counted too. */
  middleware(): Middleware {
    return async (ctx: ParameterizedContext, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        // @koa/router names the template it matched (`/transcript/:jobId`); anything else is one bucket.
        const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
        const labels = { method: ctx.method, route: typeof route === 'string' ? route : 'unmatched' };
        this.requests.inc({ ...labels, status: String(ctx.status) });
        this.duration.observe(labels, (performance.now() - started) / 1000);
      }
    };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
