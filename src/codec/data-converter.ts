import type { DataConverter, PayloadCodec } from '@temporalio/common';

/** The module the SDK loads the failure converter from, in processes and in the workflow bundle alike. */
export const FAILURE_CONVERTER_PATH = require.resolve('./encrypted-failure-converter');

/**
 * The data converter of every client and worker: payloads through `codec`, failures with their messages and
 * stack traces moved into payloads, so both are encrypted.
 */
export function serviceDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}
