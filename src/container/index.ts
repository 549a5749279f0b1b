export * from './container-runtime.js';
export * from './detect-runtime.js';
export * from './run-spec.js';
export * from './supervised-container.js';
export * from './container-support.js';
