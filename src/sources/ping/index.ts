export { pingSourceKind } from './ping-source-kind.js';
export {
  PING_EVENT_TYPE,
  PingSource,
  pingEventSource,
  systemClock,
  type PingClock,
  type PingSourceOptions,
  type PingSourceStats,
} from './ping-source.js';
export { PingSchedule, checkTimezone, splitTimezonePrefix } from './ping-schedule.js';
export {
  DEFAULT_PING_SCHEDULE,
  decodeBase64Strict,
  pingSourceSpecSchema,
  type PingSourceSpec,
  type PingSourceSpecInput,
} from './spec-schema.js';
