export * from './entities/sandbox.entity';
export * from './entities/template.entity';
export * from './entities/projection-checkpoint.entity';
export * from './entities/dead-letter.entity';
export * from './migrations';
export * from './data-source';
export * from './transient';
export * from './platform-secret';
