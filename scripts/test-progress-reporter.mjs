// A node:test reporter for scripts/test.mjs: writes each test's start, end and outcome as one
// JSON line to the file named by WRENN_TEST_PROGRESS, synchronously, so that when a file hangs
// and is killed the runner still knows which test was running. It prints nothing itself (the
// spec reporter does that).
import { appendFileSync } from 'node:fs';

const path = process.env.WRENN_TEST_PROGRESS;

function write(record) {
  if (path) appendFileSync(path, `${JSON.stringify(record)}\n`);
}

export default async function* progress(source) {
  for await (const { type, data } of source) {
    switch (type) {
      // Execution order: dequeue = begins running, complete = done (whatever the outcome).
      case 'test:dequeue':
      case 'test:complete':
      // Reporting order (children before their suite's outcome): the counts come from these.
      case 'test:start':
      case 'test:pass':
      case 'test:fail':
        write({
          event: type.slice(5),
          name: data.name,
          nesting: data.nesting,
          suite: data.details?.type === 'suite' || undefined,
          skip: data.skip,
          todo: data.todo,
          failure: type === 'test:fail' ? data.details?.error?.failureType : undefined,
          error: type === 'test:fail' ? String(data.details?.error?.cause?.message ?? data.details?.error?.message ?? '').slice(0, 300) : undefined,
        });
        break;
      default:
        break;
    }
  }
  yield '';
}
