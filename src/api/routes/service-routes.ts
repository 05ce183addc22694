import Router from '@koa/router';
import type { HealthReport } from '../health-check';
import type { ApiState } from '../api-state';
import type { ApiMetrics } from '../api-metrics';
import { HttpError } from '../http-error';

/**
 * Open to all: the health check load balancers poll, and the OpenAPI document. `/healthz` names each part and
 * whether it answers; a part down is a 503 that says which.
 */
export function createPublicRouter(deps: { health: () => Promise<HealthReport>; openApiJson: string }): Router {
  const router = new Router();
  router.get('/healthz', async (ctx) => {
    const report = await deps.health();
    const down = Object.keys(report).filter((part) => report[part] !== 'ok');
    if (down.length > 0) {
      throw new HttpError(503, 'unavailable', `not answering: ${down.join(', ')}`, report, { 'Retry-After': '2' });
    }
    ctx.body = { status: 'ok', ...report };
  });
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = deps.openApiJson;
  });
  return router;
}

/** `GET /metrics`: this API process's Prometheus metrics, for operators. */
export function registerMetricsRoute(router: Router<ApiState>, metrics: Pick<ApiMetrics, 'render'>): void {
  router.get('/metrics', async (ctx) => {
    const { caller } = ctx.state;
    if (caller.authenticated && caller.principal.role !== 'operator') {
      throw new HttpError(403, 'forbidden', 'only operators may read the metrics');
    }
    const { contentType, body } = await metrics.render();
    ctx.type = contentType;
    ctx.body = body;
  });
}
