export { MemoryChannel, createMemoryChannelFactory, DEFAULT_MEMORY_CAPACITY } from './memory-channel.js';
