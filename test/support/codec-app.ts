import type { Middleware } from 'koa';
import { HttpError } from '../../src/api/http-error';
import { AuthenticationError } from '../../src/auth/auth-errors';

/**
 * The API's error answers, reduced to what the codec router's tests need when they mount the router alone:
 * refused credentials are a 401, and the router's own HttpErrors keep their status and code.
 */
export const answerErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    const error =
      err instanceof AuthenticationError ? new HttpError(401, 'unauthenticated', err.message) : (err as HttpError);
    ctx.status = error.status;
    ctx.body = { error: { code: error.code, message: error.message, details: error.details } };
  }
};
