export { DEFAULT_READAHEAD_PAGES, PageServer } from './page-server';
export type { PageServerOptions, PageServerStats } from './page-server';
export { loadNative } from './native-binding';
export { PageServerProcess } from './page-server-process';
export type { PageServerProcessOptions, PageServerProcessRef } from './page-server-process';
