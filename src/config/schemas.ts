import path from 'node:path';
import { z } from 'zod';
import { parseAllowListEntry } from '../callbacks/callback-url-policy';

/*
 * How the settings' values are parsed. Defaults are not part of these schemas: a setting declares its default in
 * the environment's own terms, and the loader hands it to the schema like any value.
 */

export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const nonNegativeInt = z.coerce.number().int().min(0);
export const nonEmpty = z.string().min(1);

export const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** A file or folder, resolved against the working directory at start-up. */
export const filePath = z.string().transform((value) => path.resolve(value));
export const optionalFilePath = optionalString.transform((value) =>
  value === undefined ? undefined : path.resolve(value),
);

export const url = optionalString.refine((value) => value === undefined || URL.canParse(value), 'not a valid URL');

export const flag = z
  .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1');

export const latencyRange = z.string().transform((value, ctx) => {
  const match = /^(\d+)\s*-\s*(\d+)$/.exec(value.trim());
  if (!match || Number(match[1]) > Number(match[2])) {
    ctx.addIssue({ code: 'custom', message: 'expected "min-max" in milliseconds, min <= max, e.g. "5000-10000"' });
    return z.NEVER;
  }
  return { minMs: Number(match[1]), maxMs: Number(match[2]) };
});

export const regex = optionalString.transform((value, ctx) => {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a valid regular expression' });
    return z.NEVER;
  }
});

export const callbackAllowList = optionalString.transform((value, ctx) => {
  if (value === undefined) return [];
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    try {
      parseAllowListEntry(entry);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }
  return entries;
});

/** `s3://bucket/prefix`: a bucket name as S3 allows it, and an optional key prefix without slashes at its ends. */
export const audioStore = optionalString.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(value);
  if (!match) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected s3://bucket or s3://bucket/prefix (bucket: 3-63 of a-z 0-9 . -)',
    });
    return z.NEVER;
  }
  return { kind: 's3' as const, bucket: match[1] as string, prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
});

const AUTH_METHODS = ['api-key', 'jwt', 'none'] as const;
export const authMethods = z.string().transform((value, ctx) => {
  const methods = [...new Set(value.split(',').map((method) => method.trim()))];
  const unknown = methods.filter((method) => !(AUTH_METHODS as readonly string[]).includes(method));
  if (unknown.length > 0 || methods.length === 0) {
    ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of ${AUTH_METHODS.join(', ')}` });
    return z.NEVER;
  }
  if (methods.includes('none') && methods.length > 1) {
    ctx.addIssue({ code: 'custom', message: '"none" cannot be combined with other methods' });
    return z.NEVER;
  }
  return methods as (typeof AUTH_METHODS)[number][];
});

export const originList = optionalString.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const origins = value.split(',').map((origin) => origin.trim());
  for (const origin of origins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like http://host:port` });
      return z.NEVER;
    }
  }
  return origins;
});
