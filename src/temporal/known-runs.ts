/**
 * The run ids of jobs' workflows this process has seen lately. A describe that names its run is answered from the
 * history service's cache; one without it first looks the current run up in persistence, which on the dev server
 * is a read through its single SQLite connection, queued behind every write. Bounded: the oldest are forgotten first.
 */
export class KnownRuns {
  private readonly runIds = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  get(workflowId: string): string | undefined {
    return this.runIds.get(workflowId);
  }

  remember(workflowId: string, runId: string): void {
    // Re-inserted, so a job still being read stays among the newest.
    this.runIds.delete(workflowId);
    this.runIds.set(workflowId, runId);
    if (this.runIds.size > this.capacity) {
      const oldest = this.runIds.keys().next().value;
      if (oldest !== undefined) this.runIds.delete(oldest);
    }
  }

  forget(workflowId: string): void {
    this.runIds.delete(workflowId);
  }
}
