export * from './envd-harness';
