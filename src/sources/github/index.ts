export { gitHubSourceKind, SOURCES_V1ALPHA1 } from './github-source-kind.js';
export {
  GitHubSource,
  type GitHubSourceOptions,
  type GitHubSourceStats,
  type GitHubSourceStatus,
  type ResolveGitHubSecret,
} from './github-source.js';
export {
  DEFAULT_GITHUB_API_URL,
  GITHUB_EVENT_NAME,
  gitHubEventNameSchema,
  gitHubSourceSpecSchema,
  parseOwnerAndRepository,
  secretValueFromSourceSchema,
  type GitHubSourceSpec,
  type GitHubSourceSpecInput,
  type SecretValueFromSource,
} from './spec-schema.js';
export { ALL_GITHUB_EVENTS, KNOWN_GITHUB_EVENTS, gitHubEventSource, gitHubEventType } from './github-event-names.js';
export { lastPathPortion, makeGitHubEvent, subjectAndExtensions, type GitHubEventInput, type SubjectAndExtensions } from './github-events.js';
export { DeliveryDedup } from './delivery-dedup.js';
export {
  GITHUB_API_VERSION,
  GitHubWebhookClient,
  isRetryableGitHubError,
  type GitHubHook,
  type GitHubWebhookClientOptions,
  type HookSettings,
} from './webhook-client.js';
export { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, readPayload, verifySignature } from './webhook-request.js';
