import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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

/** Whether each generation's memory file is beside the header, and long enough to serve. */
export type FileStatus = 'ok' | 'missing' | 'short';

async function fileStatuses(file: string, h: SnapshotHeader): Promise<FileStatus[]> {
  const d = describeHeader(h);
  return Promise.all(
    d.generations.map((g) =>
      stat(join(dirname(file), g.file)).then(
        (st) => (st.size >= h.sizeBytes ? 'ok' : 'short'),
        () => 'missing' as const,
      ),
    ),
  );
}

/** `wrenn snapshot inspect <file>`: what a snapshot header says, for an operator. */
export function formatHeader(file: string, h: SnapshotHeader, options: { json?: boolean; runs?: boolean }, files?: FileStatus[]): string {
  const d = describeHeader(h);
  if (options.json) {
    const generations = d.generations.map((g, i) => (files ? { ...g, fileStatus: files[i] } : g));
    const out = { file, ...d, generations };
    return JSON.stringify(options.runs ? { ...out, pageRuns: pageRuns(h).map(([first, count, g]) => ({ first, count, generation: g })) } : out, null, 2);
  }
  const lines = [
    `snapshot header v${d.version}  ${file}`,
    `memory       ${mib(d.sizeBytes)} (${d.pages} pages of ${d.pageSize / 1024} KiB)`,
    `holes        ${d.holes} pages (${mib(d.holes * d.pageSize)}), served as zero pages`,
    `runs         ${d.runs} runs of consecutive pages with one owner (a file or a hole)`,
    `generations  ${d.generations.length} (oldest first; the newest holds the pages last written)`,
    ...d.generations.map(
      (g, i) => `  ${String(g.index).padStart(2)}  ${g.file.padEnd(40)} ${String(g.pages).padStart(10)} pages  ${mib(g.bytes).padStart(12)}${files ? `  ${files[i]}` : ''}`,
    ),
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
  console.log(formatHeader(file, h, options, await fileStatuses(file, h)));
}
