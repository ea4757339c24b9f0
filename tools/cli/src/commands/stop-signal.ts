/**
 * What `wrenn start` does with SIGINT/SIGTERM: the first starts the orderly stop; the same signal
 * again within `duplicateMs` is the first one delivered twice (a terminal signals the whole
 * process group and `npm start`'s wrapper forwards it too) and is ignored; a signal after that
 * means "stop now". Exiting on the duplicate would skip the teardown and leave sandboxes, network
 * namespaces and rules behind.
 */
export function stopSignalHandler(stop: (signal: string) => Promise<void>, options: { duplicateMs?: number; exit?: (code: number) => void; now?: () => number } = {}): (signal: string) => void {
  const duplicateMs = options.duplicateMs ?? 2000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const now = options.now ?? Date.now;
  let since: number | undefined;
  return (signal) => {
    if (since !== undefined) {
      if (now() - since > duplicateMs) exit(1);
      return;
    }
    since = now();
    void stop(signal);
  };
}
