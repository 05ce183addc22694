/**
 * How long the API takes to answer. Clients are promised an answer within 15 s, measured on their side: the
 * Temporal calls of a request get 12 s, and whatever is still pending at 13 s is answered 503 at once, leaving room
 * for queues on both sides. A long-poll's wait comes on top of both.
 */
export const TEMPORAL_BUDGET_MS = 12_000;
export const ANSWER_WITHIN_MS = 13_000;

/**
 * An upload's answer waits for its bytes, which arrive as fast as the client sends them: its budget covers a
 * 5 MB file at about 40 KB/s, as the server's own request timeout does.
 */
export const UPLOAD_WITHIN_MS = 120_000;
