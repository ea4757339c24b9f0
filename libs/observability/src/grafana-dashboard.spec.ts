import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricsRegistry } from './metrics';
import { Series } from './series';

const DASHBOARD = join(__dirname, '../../../deploy/grafana/wrenn.json');
const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap', 'text', 'piechart']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * What a series name may be queried as, and with which labels: prom-client's names (a histogram
 * as _bucket, _sum and _count; `le` only on _bucket), from the registry the code fills.
 */
async function definedSeries(): Promise<Map<string, Set<string>>> {
  const defined = new Map<string, Set<string>>();
  for (const metric of await metricsRegistry.getMetricsAsJSON()) {
    const labelNames = new Set<string>((metricsRegistry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] })?.labelNames ?? []);
    for (const v of metric.values) for (const l of Object.keys(v.labels)) if (l !== 'le') labelNames.add(l);
    if (String(metric.type) === 'histogram') {
      defined.set(`${metric.name}_bucket`, new Set([...labelNames, 'le']));
      defined.set(`${metric.name}_sum`, labelNames);
      defined.set(`${metric.name}_count`, labelNames);
    } else {
      defined.set(metric.name, labelNames);
    }
  }
  return defined;
}

/** The series a PromQL expression reads, each with the labels its selector matches on. */
export function seriesOf(expr: string): Array<{ name: string; labels: string[] }> {
  const found: Array<{ name: string; labels: string[] }> = [];
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\[[^\]]*\]/g, ' ')
    // Grouping clauses name labels, not series.
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const token = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (const [, name, selector, call] of text.matchAll(token)) {
    if (call || PROMQL_WORDS.has(name.toLowerCase()) || name.startsWith('$')) continue;
    const labels = [...(selector ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]);
    found.push({ name, labels });
  }
  // A bare selector `{__name__=…}` is not used here; numbers never match the token pattern's first char.
  return found.filter((s) => !/^\d/.test(s.name));
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string }>;
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  time: { from: string; to: string };
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string }> };
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, expr: (v.definition ?? '').replace(/^label_values\((.*),\s*\w+\)$/, '$1') })),
];

describe('deploy/grafana/wrenn.json', () => {
  it('has the top-level fields Grafana requires to import it', () => {
    assert.equal(typeof dashboard.title, 'string');
    assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 30);
    assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length > 0);
    assert.match(dashboard.time.from, /^now/);
    assert.ok(dashboard.templating.list.some((v) => v.type === 'datasource' && v.query === 'prometheus'), 'a Prometheus data source variable');
  });

  it('lays out known panel types on the 24-column grid, each with unique ids and queries', () => {
    const ids = new Set<number>();
    for (const p of panels) {
      assert.ok(PANEL_TYPES.has(p.type), `panel "${p.title}" has type ${p.type}`);
      assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `panel id ${p.id} is unique`);
      ids.add(p.id);
      const g = p.gridPos;
      assert.ok([g.h, g.w, g.x, g.y].every(Number.isInteger) && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `panel "${p.title}" fits the grid`);
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.type, 'prometheus', `panel "${p.title}" queries Prometheus`);
      assert.ok(p.targets?.length, `panel "${p.title}" has queries`);
      const refIds = p.targets!.map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `panel "${p.title}" has unique refIds`);
    }
  });

  it('queries only series the code defines, with labels those series carry', async () => {
    const defined = await definedSeries();
    const problems: string[] = [];
    for (const q of queries) {
      const series = seriesOf(q.expr);
      if (series.length === 0) problems.push(`${q.where} names no series: ${q.expr}`);
      for (const s of series) {
        const labels = defined.get(s.name);
        if (!labels) problems.push(`${q.where} reads ${s.name}, which no code defines`);
        else for (const l of s.labels) if (!labels.has(l)) problems.push(`${q.where} selects ${s.name} on label ${l}, which it does not carry`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('shows every series group Wrenn defines', () => {
    const shown = new Set(queries.flatMap((q) => seriesOf(q.expr).map((s) => s.name.replace(/_(bucket|sum|count)$/, ''))));
    const missing = Object.values(Series).filter((name) => !shown.has(name));
    assert.deepEqual(missing, []);
  });
});

describe(seriesOf.name, () => {
  it('finds series behind functions, aggregations and selectors, and skips labels and ranges', () => {
    assert.deepEqual(seriesOf('histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{status=~"5..",route!="x"}[5m]))) / ignoring(state) b'), [
      { name: 'a_bucket', labels: ['status', 'route'] },
      { name: 'b', labels: [] },
    ]);
  });

  it('catches a query of a series nobody defines', async () => {
    const defined = await definedSeries();
    assert.ok(!defined.has(seriesOf('sum(rate(wrenn_not_a_series_total[5m]))')[0].name));
    assert.ok(defined.has(seriesOf('sum(rate(wrenn_sandbox_create_duration_seconds_count[5m]))')[0].name));
  });
});
