import Router from '@koa/router';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The files of `swagger-ui-dist` the docs page loads, with their types. Only these are served: the package
 * folder holds more (source maps, other bundles) that no page needs.
 */
const SWAGGER_UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/**
 * Swagger UI injects its own styles and renders schema images as data URLs; everything else comes from this
 * origin, so the page works on a network that reaches only the API.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "script-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Transcription service API</title>
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" />
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/docs-page.js"></script>
  </body>
</html>
`;

/** Kept out of the page itself so the policy can forbid inline scripts. */
const DOCS_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  validatorUrl: null,
});
`;

/**
 * `GET /docs`: the API reference, rendered by Swagger UI from `/openapi.json`, with Swagger UI's own files served
 * from the npm package installed with the service rather than from a CDN.
 */
export function createDocsRouter(): Router {
  const router = new Router();
  const assetsDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const cache = new Map<string, Promise<Buffer>>();
  const readAsset = (name: string): Promise<Buffer> => {
    let content = cache.get(name);
    if (!content) {
      content = readFile(path.join(assetsDir, name));
      // A failed read is tried again on the next request rather than remembered.
      void content.catch(() => cache.delete(name));
      cache.set(name, content);
    }
    return content;
  };

  router.get('/docs', (ctx) => {
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = DOCS_PAGE;
  });
  router.get('/docs/docs-page.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = DOCS_SCRIPT;
  });
  router.get('/docs/:asset', async (ctx, next) => {
    const { asset } = ctx.params as { asset: string };
    const type = Object.hasOwn(SWAGGER_UI_ASSETS, asset) ? SWAGGER_UI_ASSETS[asset] : undefined;
    if (!type) {
      await next();
      return;
    }
    ctx.type = type;
    // The package version is pinned, so an asset changes only with a new release of the service.
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = await readAsset(asset);
  });
  return router;
}
