export * from './scripted-log';
