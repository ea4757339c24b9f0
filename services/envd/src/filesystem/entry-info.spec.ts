import { filesystemPb } from '@wrenn/proto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { permissionString } from './entry-info';

const { FileType } = filesystemPb;

describe('permissionString', () => {
  it('renders mode bits the way `ls -l` does, with the type letter', () => {
    assert.equal(permissionString(0o644, FileType.FILE), '-rw-r--r--');
    assert.equal(permissionString(0o755, FileType.DIRECTORY), 'drwxr-xr-x');
    assert.equal(permissionString(0o777, FileType.SYMLINK), 'lrwxrwxrwx');
    assert.equal(permissionString(0o100600, FileType.FILE), '-rw-------');
  });
});
