/** The load generator's client of one system's API: each answer's latency by kind of request, and the refusals. */
export class Api {
  readonly samples = {
    post: [] as number[],
    get: [] as number[],
    search: [] as number[],
    getFinished: [] as number[],
    searchFinished: [] as number[],
  };
  /** Jobs seen completed, by any scenario so far: what the finished-job readers read. */
  readonly finished: { jobId: string; userId: string }[] = [];
  slowest = 0;
  /** Answers other than 200/202, by status. */
  refusals: Record<string, number> = {};

  constructor(
    private readonly url: string,
    private readonly keys: Map<string, string>,
  ) {}

  async call(kind: keyof Api['samples'], user: string, route: string, body?: unknown) {
    const started = performance.now();
    const response = await fetch(`${this.url}${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${this.keys.get(user)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    const elapsed = performance.now() - started;
    this.samples[kind].push(elapsed);
    this.slowest = Math.max(this.slowest, elapsed);
    if (response.status >= 300) this.refusals[response.status] = (this.refusals[response.status] ?? 0) + 1;
    return { status: response.status, json };
  }
}
