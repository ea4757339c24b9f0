/**
 * Every file-level import cycle among the TypeScript sources under `dirs` (relative to
 * `baseDir`), each as the files around the loop, and how many files were read. Type-only
 * imports count: a cycle of types still ties the files together (neither can move or be read
 * alone), and the next value import along it turns it into a load-order bug.
 */
export async function importCycles(baseDir: string, dirs: string[]): Promise<{ files: number; cycles: string[][] }> {
  // An ES module only: loaded with import(), which this package's build keeps as written.
  const { cruise } = await import('dependency-cruiser');
  const result = await cruise(
    dirs,
    {
      baseDir,
      validate: true,
      ruleSet: { forbidden: [{ name: 'no-circular', severity: 'error', from: {}, to: { circular: true } }] },
      // Imports as written in the source, before the compiler drops the type-only ones.
      tsPreCompilationDeps: true,
      // The sources only: builds, bundles and installed packages are not ours to check.
      exclude: { path: '(^|/)(node_modules|dist|bundle)/' },
      includeOnly: { path: '\\.ts$' },
    },
    { extensions: ['.ts', '.js', '.json'] },
  );
  if (typeof result.output === 'string') throw new Error('dependency-cruiser answered text, not its JSON result');
  const seen = new Set<string>();
  const cycles: string[][] = [];
  for (const v of result.output.summary.violations) {
    if (v.rule.name !== 'no-circular') continue;
    // The cycle ends where it started: each file once, in the order of the loop.
    const loop = [...new Set([v.from, ...(v.cycle ?? []).map((c) => (typeof c === 'string' ? c : c.name))])];
    // One cycle is reported once per file on it: keep it once.
    const key = [...loop].sort().join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    cycles.push(loop);
  }
  return { files: result.output.modules.length, cycles };
}
