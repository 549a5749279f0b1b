// Live configuration: admin-applied changes kept under --data-dir, and -f files watched.
export { LiveConfig, type AppliedItem, type ApplyResult, type DeletedItem, type LiveConfigOptions, type LiveRuntime } from './live-config.js';
export { AdminStateFile, type AdminState } from './admin-state-file.js';
export { kindAliases, knownKinds, pluralOf, resolveKindName } from './kind-names.js';
export { resourceDigest } from './resource-digest.js';
