export { MemoryChannel, createMemoryChannelFactory, DEFAULT_MEMORY_CAPACITY, DEFAULT_MEMORY_CAPACITY_BYTES, type MemoryChannelOptions, type MemoryChannelFactoryOptions } from './memory-channel.js';
export { BufferBudget, defaultMaxBufferedBytes } from './buffer-budget.js';
export { eventBytes } from '../../events/event-bytes.js';
