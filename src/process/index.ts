export { spawnSupervised, supervisedGroups } from './supervisor.js';
export type { SpawnSupervised, SpawnSupervisedOptions, SupervisedProcess, ProcessExit } from './supervisor.js';
