/**
 * How this host names a paused sandbox's snapshot: `snap_<sandboxId>`. Opaque to the control
 * plane, which hands it back on resume; the agent checks it names the sandbox being resumed.
 */
export function snapshotRefFor(sandboxId: string): string {
  return `snap_${sandboxId}`;
}
