/** What `/healthz` reports of each part the API needs: whether it answered the last check. */
export type HealthReport = Record<string, 'ok' | 'down'>;

export interface HealthCheckOptions {
  /** Each part's check; a part whose check throws, or takes longer than `timeoutMs`, is down. */
  parts: Record<string, () => Promise<void>>;
  /** How long one check's result answers every request, so a flood of health requests costs one check each time. */
  maxAgeMs: number;
  timeoutMs: number;
  now?: () => number;
}

/**
 * The API's health, checked at most once per `maxAgeMs` however many load balancers and clients ask: requests in
 * between share the last result, or the check under way.
 */
export class HealthCheck {
  private last: { at: number; report: HealthReport } | undefined;
  private running: Promise<HealthReport> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: HealthCheckOptions) {
    this.now = options.now ?? Date.now;
  }

  report(): Promise<HealthReport> {
    if (this.last && this.now() - this.last.at < this.options.maxAgeMs) return Promise.resolve(this.last.report);
    this.running ??= this.check().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async check(): Promise<HealthReport> {
    const entries = await Promise.all(
      Object.entries(this.options.parts).map(async ([name, check]) => [name, await this.probe(check)] as const),
    );
    const report = Object.fromEntries(entries);
    this.last = { at: this.now(), report };
    return report;
  }

  private async probe(check: () => Promise<void>): Promise<'ok' | 'down'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'down'>((resolve) => {
      timer = setTimeout(() => resolve('down'), this.options.timeoutMs);
    });
    try {
      return await Promise.race([
        check().then(
          () => 'ok' as const,
          () => 'down' as const,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
