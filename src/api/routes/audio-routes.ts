import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import { uploadNameProblem } from '../../storage/audio-paths';
import { InvalidListTokenError, type AudioStore } from '../../storage/audio-store';
import { answeringAudioErrors } from '../audio-errors';
import { actingUserId, type Caller } from '../caller';
import { HttpError, invalidRequest } from '../http-error';
import { readJsonBody } from '../read-json-body';
import {
  audioFileQuerySchema,
  listAudioSchema,
  parseRequest,
  presignUploadSchema,
  uploadAudioSchema,
} from '../request-schemas';
import { discardRestOfUpload, uploadedFileStream } from '../upload-body';

export interface AudioRouteDependencies {
  audio: Pick<AudioStore, 'upload' | 'presignUpload' | 'list' | 'details' | 'remove'>;
  maxChunkBytes: number;
  maxBodyBytes: number;
}

interface State {
  caller: Caller;
}

/** How long a presigned upload URL stays valid. */
const PRESIGNED_UPLOAD_SECONDS = 15 * 60;

/**
 * The caller's audio space: upload (`POST /audio`, streamed, checked, nothing kept on refusal), presigned uploads
 * straight to the S3 store, listing, reading one file's details, and deletion. Every route acts in the caller's own
 * space only; a path outside it reads as missing.
 */
export function registerAudioRoutes<S extends State>(router: Router<S>, deps: AudioRouteDependencies): void {
  router.post('/audio', async (ctx) => {
    const query = parseRequest(uploadAudioSchema, ctx.query);
    const userId = actingUserId(ctx.state.caller, query.userId, 'submit');
    try {
      const { source, filename } = await uploadedFileStream(ctx, deps.maxChunkBytes);
      const uploaded = await answeringAudioErrors('file', () =>
        deps.audio.upload(userId, source, { name: query.name ?? usableFileName(filename) }),
      );
      ctx.status = 201;
      ctx.set('Location', audioLocation(uploaded.path));
      ctx.body = uploaded;
    } catch (err) {
      discardRestOfUpload(ctx);
      throw err;
    }
  });

  router.post('/audio/uploads', async (ctx) => {
    const body = parseRequest(presignUploadSchema, await readJsonBody(ctx, deps.maxBodyBytes));
    const userId = actingUserId(ctx.state.caller, body.userId, 'submit');
    const signed = await answeringAudioErrors('bytes', () =>
      deps.audio.presignUpload(userId, {
        name: body.name,
        bytes: body.bytes,
        expiresInSeconds: PRESIGNED_UPLOAD_SECONDS,
      }),
    );
    // Not a fault of the service, and nothing a retry fixes: this deployment keeps audio where no URL can be signed.
    if (!signed) {
      throw new HttpError(
        404,
        'direct_uploads_unavailable',
        'direct uploads need the S3 audio store; POST the file to /audio instead',
      );
    }
    ctx.status = 201;
    ctx.body = {
      path: signed.path,
      uploadUrl: signed.url,
      method: signed.method,
      headers: signed.headers,
      expiresTime: signed.expiresTime,
    };
  });

  router.get('/audio', async (ctx) => {
    const query = parseRequest(listAudioSchema, ctx.query);
    const userId = actingUserId(ctx.state.caller, query.userId, 'submit');
    try {
      ctx.body = await deps.audio.list(userId, query);
    } catch (err) {
      if (err instanceof InvalidListTokenError) throw invalidRequest([{ field: 'pageToken', message: err.message }]);
      throw err;
    }
  });

  router.get('/audio/{*path}', async (ctx) => {
    const { userId, path } = fileOf(ctx);
    ctx.body = await answeringAudioErrors('path', () => deps.audio.details(userId, path));
  });

  router.delete('/audio/{*path}', async (ctx) => {
    const { userId, path } = fileOf(ctx);
    await answeringAudioErrors('path', () => deps.audio.remove(userId, path));
    ctx.status = 204;
  });
}

/** The user and path a `/audio/{path}` request names. */
function fileOf(ctx: ParameterizedContext<State>): { userId: string; path: string } {
  const query = parseRequest(audioFileQuerySchema, ctx.query);
  const userId = actingUserId(ctx.state.caller, query.userId, 'submit');
  return { userId, path: (ctx.params as { path?: string }).path ?? '' };
}

/** A multipart part's file name, if it can name an upload as it is (browsers may send a full Windows path). */
function usableFileName(filename: string | undefined): string | undefined {
  const base = filename?.split(/[\\/]/).at(-1);
  return base !== undefined && uploadNameProblem(base) === undefined ? base : undefined;
}

export function audioLocation(path: string): string {
  return `/audio/${path.split('/').map(encodeURIComponent).join('/')}`;
}
