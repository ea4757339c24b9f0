import Table from 'cli-table3';
import ora, { Ora } from 'ora';

/** Prints a value as one JSON document (what `--json` means for every command). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A borderless table of rows for humans; an empty list says so instead of printing headers alone. */
export function printTable(head: string[], rows: Array<Array<string | number | null | undefined>>, empty = 'nothing to show'): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const table = new Table({
    head,
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    style: { head: process.stdout.isTTY ? ['bold'] : [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  process.stdout.write(`${table.toString()}\n`);
}

/**
 * Runs `work` under a spinner on stderr. The spinner only shows on a terminal and never with
 * --json, so piped output and scripts see nothing but the result.
 */
export async function withSpinner<T>(text: string, json: boolean | undefined, work: () => Promise<T>, options: { clear?: boolean } = {}): Promise<T> {
  const spinner: Ora = ora({ text, stream: process.stderr, isEnabled: Boolean(process.stderr.isTTY) && !json });
  // A call that answers within ~0.3 s does not need a spinner flashing by.
  const timer = setTimeout(() => spinner.start(), 300);
  try {
    const result = await work();
    clearTimeout(timer);
    if (spinner.isSpinning) (options.clear ? spinner.stop() : spinner.succeed());
    return result;
  } catch (error) {
    clearTimeout(timer);
    if (spinner.isSpinning) spinner.fail();
    throw error;
  }
}

/** "3m ago" from an ISO time. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
