import { arrivalSchedule, summarize } from '../../bench/stats';
import { histogram, lineChart } from '../../bench/svg-chart';

describe('benchmark statistics and charts', () => {
  it('when percentiles are taken, then each is a value that was measured (nearest rank)', () => {
    const values = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(summarize(values)).toMatchObject({ count: 100, min: 1, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
    expect(summarize([7])).toMatchObject({ p50: 7, p99: 7 });
    expect(summarize([]).count).toBe(0);
  });

  it('when a load is open-loop, then arrivals are fixed in advance at the given rate', () => {
    expect(arrivalSchedule(4, 2)).toEqual([0, 500, 1000, 1500]);
  });

  it('when charts are drawn, then they are standalone SVG with every series and bar', () => {
    const line = lineChart({
      title: 'in flight',
      xLabel: 's',
      yLabel: 'chunks',
      series: [
        {
          name: 'submitted',
          points: [
            [0, 0],
            [1, 500],
            [2, 1000],
          ],
        },
        {
          name: 'ASR <calls>',
          points: [
            [0, 0],
            [2, 700],
          ],
        },
      ],
    });
    expect(line).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(line.match(/<path /g)).toHaveLength(2);
    expect(line).toContain('ASR &#60;calls&#62;');
    const bars = histogram({ title: 'overhead', xLabel: 'ms', values: [10, 20, 20, 990], bins: 10 });
    expect(bars.match(/<rect x=/g)).toHaveLength(10);
  });
});
