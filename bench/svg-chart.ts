/**
 * Minimal SVG charts the benchmark draws itself, so its report needs no plotting library or browser: a line chart
 * of series over time and a histogram of one distribution.
 */
export interface Series {
  name: string;
  points: readonly [number, number][];
}

const WIDTH = 720;
const HEIGHT = 320;
const MARGIN = { left: 60, right: 20, top: 30, bottom: 45 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / magnitude) * magnitude;
}

function frame(title: string, xLabel: string, yLabel: string, xMax: number, yMax: number, body: string): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const yTicks = ticks
    .map((t) => {
      const y = MARGIN.top + plotH * (1 - t);
      return `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${+(yMax * t).toFixed(2)}</text>`;
    })
    .join('');
  const xTicks = ticks
    .map((t) => {
      const x = MARGIN.left + plotW * t;
      return `<text x="${x}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${+(xMax * t).toFixed(2)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/><text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>${yTicks}${xTicks}<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#333"/><line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom}" stroke="#333"/><text x="${WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeXml(xLabel)}</text><text transform="translate(14 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>${body}</svg>\n`;
}

/** Lines of (x, y) points, e.g. chunks in flight against seconds. */
export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
}): string {
  const all = options.series.flatMap((series) => series.points);
  const xMax = niceMax(Math.max(0, ...all.map(([x]) => x)));
  const yMax = niceMax(Math.max(0, ...all.map(([, y]) => y)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const body = options.series
    .map((series, index) => {
      const colour = COLOURS[index % COLOURS.length];
      const path = series.points
        .map(
          ([x, y], i) =>
            `${i === 0 ? 'M' : 'L'}${(MARGIN.left + (x / xMax) * plotW).toFixed(1)},${(MARGIN.top + plotH * (1 - y / yMax)).toFixed(1)}`,
        )
        .join('');
      const legendY = MARGIN.top + 14 * index + 6;
      return `<path d="${path}" fill="none" stroke="${colour}" stroke-width="1.5"/><rect x="${WIDTH - MARGIN.right - 170}" y="${legendY - 8}" width="10" height="10" fill="${colour}"/><text x="${WIDTH - MARGIN.right - 155}" y="${legendY + 1}">${escapeXml(series.name)}</text>`;
    })
    .join('');
  return frame(options.title, options.xLabel, options.yLabel, xMax, yMax, body);
}

/** A histogram of values in `bins` equal-width bins from 0 to the largest value. */
export function histogram(options: {
  title: string;
  xLabel: string;
  values: readonly number[];
  bins?: number;
}): string {
  const bins = options.bins ?? 30;
  const xMax = niceMax(Math.max(0, ...options.values));
  const counts = new Array<number>(bins).fill(0);
  for (const value of options.values) counts[Math.min(bins - 1, Math.floor((value / xMax) * bins))]! += 1;
  const yMax = niceMax(Math.max(0, ...counts));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const body = counts
    .map((count, index) => {
      const h = (count / yMax) * plotH;
      return `<rect x="${(MARGIN.left + (index * plotW) / bins + 1).toFixed(1)}" y="${(MARGIN.top + plotH - h).toFixed(1)}" width="${(plotW / bins - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[0]}"/>`;
    })
    .join('');
  return frame(options.title, options.xLabel, 'count', xMax, yMax, body);
}
