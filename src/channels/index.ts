export type * from './channel.js';
export { ChannelRegistry } from './registry.js';
export { MemoryChannel, createMemoryChannelFactory, DEFAULT_MEMORY_CAPACITY } from './memory/index.js';
