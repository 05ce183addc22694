import { DefaultFailureConverter } from '@temporalio/common';

/**
 * The failure converter of every process and of the workflow bundle: it moves each failure's message and stack
 * trace into an encoded payload, which the payload codec then encrypts, so a chunk's path and the ASR's error text
 * are not left plain in history. Reading failures needs nothing of it: the SDK's default converter already decodes
 * that payload. Loaded by path (`failureConverter` is the export the SDK looks for), so it must stay safe to bundle
 * into workflow code.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
