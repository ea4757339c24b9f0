import { rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandRunner } from '@wrenn/host-agent/dist/rootfs/command-runner';

/**
 * Answers losetup/dmsetup like the tools would, records every call and how many VMMs ran then.
 * A device it "creates" is a file in `deviceDir` (the drive the VMM's jail gets), gone on remove.
 */
export class RecordingRunner implements CommandRunner {
  readonly calls: Array<{ line: string; vmms: number }> = [];
  private loop = 40;
  constructor(private readonly vmms: () => number, private readonly deviceDir: () => string) {}
  async run(file: string, args: string[]): Promise<string> {
    const line = [file, ...args].join(' ');
    this.calls.push({ line, vmms: this.vmms() });
    if (file === 'dmsetup' && args[0] === 'create') await writeFile(join(this.deviceDir(), args[1]), 'root drive');
    if (file === 'dmsetup' && args[0] === 'remove') await rm(join(this.deviceDir(), args[1]), { force: true });
    if (file === 'losetup' && args[0] === '--find') return `/dev/loop${this.loop++}\n`;
    if (file === 'losetup' && args[0] === '--list') return '{"loopdevices":[]}';
    if (file === 'cp') {
      // Stands in for the copy of the device: an image of the origin's size.
      await writeFile(args[2], 'flattened root filesystem');
      await truncate(args[2], 64 * 1024 * 1024);
    }
    return '';
  }
}
