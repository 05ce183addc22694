import { createHmac, timingSafeEqual } from 'node:crypto';

/** Where a page of search results ends: the last job's creation time and id, in the index's order. */
export interface SearchCursor {
  createdMs: number;
  jobId: string;
}

/** A page token this service did not issue, or issued for another search. */
export class InvalidPageTokenError extends Error {
  constructor() {
    super('pageToken is not one this service returned');
    this.name = 'InvalidPageTokenError';
  }
}

/**
 * Page tokens are the cursor, sealed with an HMAC keyed by a secret every API process derives alike and bound to
 * the search it belongs to: a token that was altered, forged, or made for another user or status is refused.
 */
export class PageTokens {
  constructor(private readonly key: Buffer) {}

  seal(search: string, cursor: SearchCursor): string {
    const body = Buffer.from(JSON.stringify([cursor.createdMs, cursor.jobId])).toString('base64url');
    return `${body}.${this.mac(search, body).toString('base64url')}`;
  }

  open(search: string, token: string): SearchCursor {
    const [body = '', mac = '', ...rest] = token.split('.');
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(search, body);
    if (rest.length > 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new InvalidPageTokenError();
    }
    const [createdMs, jobId] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [number, string];
    return { createdMs, jobId };
  }

  private mac(search: string, body: string): Buffer {
    return createHmac('sha256', this.key).update(search).update('\n').update(body).digest();
  }
}
