import { readFile } from 'node:fs/promises';
import { HOLE, SnapshotHeader, decodeHeader, describeHeader } from '@wrenn/host-agent/dist/snapshot';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Runs of consecutive pages with the same owner: `[first, count, generation index | null]`. */
export function pageRuns(h: SnapshotHeader): Array<[number, number, number | null]> {
  const runs: Array<[number, number, number | null]> = [];
  for (let p = 0; p < h.pageMap.length; ) {
    let end = p + 1;
    while (end < h.pageMap.length && h.pageMap[end] === h.pageMap[p]) end++;
    runs.push([p, end - p, h.pageMap[p] === HOLE ? null : h.pageMap[p] - 1]);
    p = end;
  }
  return runs;
}

/** `wrenn snapshot inspect <file>`: what a snapshot header says, for an operator. */
export function formatHeader(file: string, h: SnapshotHeader, options: { json?: boolean; runs?: boolean }): string {
  const d = describeHeader(h);
  if (options.json) {
    return JSON.stringify(options.runs ? { file, ...d, pageRuns: pageRuns(h).map(([first, count, g]) => ({ first, count, generation: g })) } : { file, ...d }, null, 2);
  }
  const lines = [
    `snapshot header v${d.version}  ${file}`,
    `memory       ${mib(d.sizeBytes)} (${d.pages} pages of ${d.pageSize / 1024} KiB)`,
    `holes        ${d.holes} pages (${mib(d.holes * d.pageSize)}), served as zero pages`,
    `runs         ${d.runs} runs of consecutive pages from one file`,
    `generations  ${d.generations.length} (oldest first; the newest holds the pages last written)`,
    ...d.generations.map((g) => `  ${String(g.index).padStart(2)}  ${g.file.padEnd(40)} ${String(g.pages).padStart(10)} pages  ${mib(g.bytes).padStart(12)}`),
  ];
  if (options.runs) {
    lines.push('page runs');
    for (const [first, count, g] of pageRuns(h)) {
      const owner = g === null ? 'hole' : `#${g} ${h.generations[g]}`;
      lines.push(`  ${String(first).padStart(10)} +${String(count).padEnd(10)} ${owner}`);
    }
  }
  return lines.join('\n');
}

export async function inspectSnapshot(file: string, options: { json?: boolean; runs?: boolean }): Promise<void> {
  const h = decodeHeader(await readFile(file));
  console.log(formatHeader(file, h, options));
}
