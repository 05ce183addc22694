import { compareLatest, repeatNoise, type HistoryEntry, type ScenarioFigures } from '../../bench/bench-history';
import { quantileInterval, summarize } from '../../bench/stats';

const machine = { cpus: 2, cpuModel: 'Xeon', memoryGb: 24, node: 'v24' };

function figures(overrides: Partial<ScenarioFigures>): ScenarioFigures {
  return {
    chunks: 1002,
    lost: 0,
    transcribedTwice: 0,
    overheadP50Ms: { value: 5000, range: [4800, 5200] },
    overheadP99Ms: { value: 9000, range: [8500, 9500] },
    postP99Ms: { value: 1200, range: [1000, 1400] },
    getP99Ms: { value: 4800, range: [4000, 5000] },
    cpuSecondsPer1000Chunks: 32,
    processCpuSecondsPer1000Chunks: { 'dev server': 15, worker: 12, api: 5 },
    peakMemoryMb: 1000,
    ...overrides,
  };
}

function entry(revision: string, burst: Partial<ScenarioFigures>, date = '2026-12-02T10:00:00.000Z'): HistoryEntry {
  return { date, revision, machine, systems: { temporal: { burst: figures(burst) } } };
}

describe('benchmark history', () => {
  it('when a percentile is taken of many samples, then its range holds it and narrows as samples grow', () => {
    const values = (n: number) => Array.from({ length: n }, (_, index) => index + 1);
    const [low100, high100] = quantileInterval(values(100), 0.5);
    const [low10k, high10k] = quantileInterval(values(10_000), 0.5);
    expect(low100).toBeLessThanOrEqual(50);
    expect(high100).toBeGreaterThanOrEqual(51);
    expect((high10k - low10k) / 10_000).toBeLessThan((high100 - low100) / 100);
    // A p99 of a hundred samples cannot be pinned below the maximum.
    expect(quantileInterval(values(100), 0.99)[1]).toBe(100);
    expect(summarize(values(100)).ranges?.p50).toEqual([low100, high100]);
  });

  it('when the latest run is compared, then each figure shows before, after and whether it moved beyond its noise', () => {
    const lines = compareLatest([
      entry('aaa1111', {}),
      entry('bbb2222', {
        getP99Ms: { value: 60, range: [40, 80] },
        overheadP50Ms: { value: 5100, range: [4900, 5300] },
        cpuSecondsPer1000Chunks: 24,
      }),
    ]).join('\n');
    expect(lines).toContain('temporal burst: against aaa1111');
    expect(lines).toContain('| GET ms p99 | 4800 [4000–5000] | 60 [40–80] | -99% | better |');
    expect(lines).toContain('| overhead ms p50 | 5000 [4800–5200] | 5100 [4900–5300] | +2% | within noise |');
    expect(lines).toContain('| CPU s / 1000 chunks | 32 | 24 | -25% | no repeat on record |');
  });

  it('when a revision was run twice, then the spread between its runs is the noise CPU changes are judged by', () => {
    const history = [
      entry('aaa1111', { cpuSecondsPer1000Chunks: 30 }),
      entry('aaa1111', { cpuSecondsPer1000Chunks: 33 }),
      entry('bbb2222', { cpuSecondsPer1000Chunks: 31 }),
    ];
    expect(repeatNoise(history, 'temporal', 'burst')).toBeCloseTo(0.1);
    expect(compareLatest(history).join('\n')).toContain(
      '| CPU s / 1000 chunks | 33 | 31 | -6% | within noise (±10%) |',
    );
    // Uncommitted trees are not repeats of anything.
    expect(
      repeatNoise([entry('c-dirty', {}), entry('c-dirty', { cpuSecondsPer1000Chunks: 90 })], 'temporal', 'burst'),
    ).toBe(undefined);
  });

  it('when a run lost jobs or transcribed a chunk twice, then the comparison says so in bold', () => {
    const lines = compareLatest([entry('aaa1111', {}), entry('bbb2222', { lost: 2, transcribedTwice: 1 })]);
    expect(lines).toContain('**2 jobs lost, 1 chunks transcribed twice after success.**');
  });

  it('when nothing ran before, then the comparison says there is nothing to compare with', () => {
    expect(compareLatest([])).toEqual(['No benchmark runs on record yet: `npm run bench` writes the first.']);
    expect(compareLatest([entry('aaa1111', {})]).join('\n')).toContain('nothing earlier to compare with');
  });
});
