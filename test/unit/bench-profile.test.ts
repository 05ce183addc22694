import { goPackage, latenciesBetween, nodeModule } from '../../bench/profile';

describe('benchmark profile', () => {
  it('when two metric scrapes are compared, then each operation shows its calls, mean and total in between, busiest first', () => {
    const before = new Map([
      ['persistence_latency|history|UpdateWorkflowExecution', { count: 10, sum: 0.02 }],
      ['persistence_latency|history|GetNamespace', { count: 5, sum: 0.01 }],
    ]);
    const after = new Map([
      ['persistence_latency|history|UpdateWorkflowExecution', { count: 1010, sum: 2.02 }],
      ['persistence_latency|history|GetNamespace', { count: 5, sum: 0.01 }],
      ['visibility_persistence_latency|frontend|CountWorkflowExecutions', { count: 100, sum: 20 }],
    ]);
    expect(latenciesBetween(before, after)).toEqual([
      {
        family: 'visibility_persistence_latency',
        service: 'frontend',
        operation: 'CountWorkflowExecutions',
        calls: 100,
        meanMs: 200,
        totalSeconds: 20,
      },
      {
        family: 'persistence_latency',
        service: 'history',
        operation: 'UpdateWorkflowExecution',
        calls: 1000,
        meanMs: 2,
        totalSeconds: 2,
      },
    ]);
  });

  it('when profiled functions are grouped, then SQLite, the Go runtime, the kernel and npm packages are told apart', () => {
    expect(goPackage('modernc.org/sqlite/lib._sqlite3VdbeExec')).toBe('SQLite (modernc.org)');
    expect(goPackage('runtime.mallocgc')).toBe('Go runtime (GC, scheduler)');
    expect(goPackage('kernel: finish_task_switch')).toMatch(/^Linux kernel/);
    expect(goPackage('go.temporal.io/server/service/history.(*Engine).Start')).toBe('Temporal server: service/history');
    expect(nodeModule('makeUnaryRequest @grpc/grpc-js/build/src/client.js:124')).toBe('@grpc/grpc-js');
    expect(nodeModule('wrapSafe node:internal/modules/cjs/loader:1422')).toBe('Node core');
    expect(nodeModule('(garbage collector)')).toBe('(garbage collector)');
  });
});
