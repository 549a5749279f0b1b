import { SPEC_VERSION } from '../../events/attributes.js';
import type { SluiceEvent } from '../../events/types.js';
import { gitHubEventType } from './github-event-names.js';

// How a GitHub webhook becomes a CloudEvent, following Knative's eventing-github
// (pkg/common/events.go: SubjectAndExtensionsFromGitHubEvent) for the events it knows and
// picking the obvious identifier for the events GitHub added since. The payload bytes are
// never re-serialised: the subject and extensions are read from a parsed copy.

type Json = unknown;

function field(v: Json, ...path: string[]): Json {
  let cur = v;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** A scalar as an attribute string; objects, null and empty strings give undefined. */
function str(v: Json): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/** Knative's lastPathPortion: `https://github.com/o/r/compare/a...b` -> `a...b`. */
export function lastPathPortion(url: Json): string | undefined {
  if (typeof url !== 'string') return undefined;
  const i = url.lastIndexOf('/');
  return i < 0 ? undefined : str(url.slice(i + 1));
}

export interface SubjectAndExtensions {
  subject: string | undefined;
  /** CloudEvents extensions (lower-case names), values as strings; absent values are left out. */
  extensions: Record<string, string>;
}

type Rule = (p: Json) => { subject: Json; extra?: Record<string, Json>; orgOwner?: boolean; noRepo?: boolean };

const id = (key: string): Rule => (p) => ({ subject: field(p, key, 'id') });
const number = (key: string): Rule => (p) => ({ subject: field(p, key, 'number') });
const action: Rule = (p) => ({ subject: field(p, 'action') });
const repoId: Rule = (p) => ({ subject: field(p, 'repository', 'id') });
const commentUrl: Rule = (p) => ({ subject: lastPathPortion(field(p, 'comment', 'html_url')) });
const refType: Rule = (p) => ({ subject: field(p, 'ref_type'), extra: { ref: field(p, 'ref') } });
const installation: Rule = (p) => ({ subject: field(p, 'installation', 'id'), noRepo: true });

const RULES: Readonly<Record<string, Rule>> = {
  // Knative's table (eventing-github pkg/common/events.go).
  check_run: id('check_run'),
  check_suite: id('check_suite'),
  commit_comment: commentUrl,
  create: refType,
  delete: refType,
  deployment: id('deployment'),
  deployment_status: id('deployment'),
  fork: id('forkee'),
  gollum: (p) => {
    const pages = field(p, 'pages');
    const names = Array.isArray(pages) ? pages.map((pg) => str(field(pg, 'page_name'))).filter((n) => n !== undefined) : [];
    return { subject: names.join(',') };
  },
  installation,
  integration_installation: installation,
  installation_repositories: installation,
  integration_installation_repositories: installation,
  issue_comment: commentUrl,
  issues: (p) => ({ subject: field(p, 'issue', 'number'), extra: { label: field(p, 'label', 'name'), assignee: field(p, 'assignee', 'login') } }),
  label: (p) => ({ subject: field(p, 'label', 'name'), extra: { label: field(p, 'label', 'name') } }),
  member: id('member'),
  membership: (p) => ({ subject: field(p, 'member', 'id'), extra: { scope: field(p, 'scope') }, orgOwner: true, noRepo: true }),
  milestone: number('milestone'),
  organization: (p) => ({ ...action(p), orgOwner: true, noRepo: true }),
  org_block: (p) => ({ ...action(p), orgOwner: true, noRepo: true }),
  page_build: (p) => ({ subject: field(p, 'id') }),
  ping: (p) => ({ subject: field(p, 'hook_id') }),
  project_card: action,
  project_column: action,
  project: action,
  public: repoId,
  pull_request: (p) => ({
    subject: field(p, 'pull_request', 'number'),
    extra: { number: field(p, 'number'), label: field(p, 'label', 'name'), assignee: field(p, 'assignee', 'login') },
  }),
  pull_request_review_comment: id('comment'),
  pull_request_review: (p) => ({ subject: field(p, 'review', 'id'), extra: { review: field(p, 'review', 'state') } }),
  push: (p) => ({
    subject: lastPathPortion(field(p, 'compare')),
    extra: {
      pusher: field(p, 'pusher', 'name'),
      ref: field(p, 'ref'),
      created: field(p, 'created'),
      deleted: field(p, 'deleted'),
      forced: field(p, 'forced'),
    },
  }),
  release: (p) => ({ subject: field(p, 'release', 'tag_name'), extra: { release: field(p, 'release', 'name') } }),
  repository: repoId,
  repository_vulnerability_alert: id('alert'),
  security_advisory: (p) => ({ subject: field(p, 'security_advisory', 'ghsa_id') }),
  status: (p) => ({ subject: field(p, 'sha'), extra: { state: field(p, 'state'), name: field(p, 'name'), context: field(p, 'context') } }),
  team: id('team'),
  team_add: repoId,
  watch: repoId,
  // Events GitHub added after Knative's table: the identifier a consumer would look up.
  branch_protection_rule: id('rule'),
  branch_protection_configuration: repoId,
  code_scanning_alert: number('alert'),
  custom_property: (p) => ({ subject: field(p, 'definition', 'property_name'), orgOwner: true }),
  custom_property_values: repoId,
  dependabot_alert: number('alert'),
  deploy_key: id('key'),
  deployment_protection_rule: id('deployment'),
  deployment_review: id('workflow_run'),
  discussion: number('discussion'),
  discussion_comment: commentUrl,
  github_app_authorization: (p) => ({ subject: field(p, 'sender', 'login'), noRepo: true }),
  installation_target: (p) => ({ subject: field(p, 'account', 'login'), noRepo: true }),
  issue_dependencies: (p) => ({ subject: field(p, 'blocked_issue', 'number') }),
  marketplace_purchase: (p) => ({ subject: field(p, 'marketplace_purchase', 'account', 'login'), noRepo: true }),
  merge_group: (p) => ({ subject: field(p, 'merge_group', 'head_sha') }),
  meta: (p) => ({ subject: field(p, 'hook_id') }),
  package: id('package'),
  personal_access_token_request: id('personal_access_token_request'),
  projects_v2: id('projects_v2'),
  projects_v2_item: id('projects_v2_item'),
  projects_v2_status_update: id('projects_v2_status_update'),
  pull_request_review_thread: (p) => ({ subject: field(p, 'pull_request', 'number') }),
  registry_package: id('registry_package'),
  repository_advisory: (p) => ({ subject: field(p, 'repository_advisory', 'ghsa_id') }),
  // `action` of a repository_dispatch is the client's own event_type.
  repository_dispatch: action,
  repository_import: repoId,
  repository_ruleset: id('repository_ruleset'),
  secret_scanning_alert: number('alert'),
  secret_scanning_alert_location: number('alert'),
  secret_scanning_scan: (p) => ({ subject: field(p, 'type') }),
  security_and_analysis: repoId,
  sponsorship: (p) => ({ subject: field(p, 'sponsorship', 'node_id') }),
  star: repoId,
  sub_issues: (p) => ({ subject: field(p, 'parent_issue', 'number') }),
  workflow_dispatch: (p) => ({ subject: field(p, 'workflow') }),
  workflow_job: id('workflow_job'),
  workflow_run: id('workflow_run'),
};

/** For an event nobody mapped yet: `payload[<event>].number` or `.id`, GitHub's usual shape. */
const generic = (eventName: string): Rule => (p) => ({ subject: field(p, eventName, 'number') ?? field(p, eventName, 'id') });

// CloudEvents forbids control characters in String attributes; GitHub text (label names,
// page titles) could in theory carry them, and one bad value must not cost the event.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function clean(v: Json): string | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const c = s.replace(CONTROL, '');
  return c === '' ? undefined : c;
}

/** The subject and extensions of a GitHub event, from its parsed payload. */
export function subjectAndExtensions(eventName: string, payload: Json): SubjectAndExtensions {
  const rule = Object.hasOwn(RULES, eventName) ? (RULES[eventName] as Rule) : generic(eventName);
  const r = rule(payload);
  const subject = clean(r.subject);
  const ext: Record<string, Json> = {
    owner: r.orgOwner ? (field(payload, 'organization', 'login') ?? field(payload, 'repository', 'owner', 'login')) : (field(payload, 'repository', 'owner', 'login') ?? field(payload, 'organization', 'login')),
    repository: r.noRepo ? undefined : field(payload, 'repository', 'name'),
    installation: field(payload, 'installation', 'id'),
    sender: field(payload, 'sender', 'login'),
    action: field(payload, 'action'),
    ...r.extra,
  };
  const extensions: Record<string, string> = {};
  for (const [k, v] of Object.entries(ext)) {
    const s = clean(v);
    if (s !== undefined) extensions[k] = s;
  }
  return { subject, extensions };
}

export interface GitHubEventInput {
  /** X-GitHub-Event. */
  eventName: string;
  /** X-GitHub-Delivery: the CloudEvent id. */
  deliveryId: string;
  /** `https://github.com/<ownerAndRepository>`. */
  source: string;
  /** The JSON payload exactly as GitHub sent it: becomes the data unchanged. */
  data: Buffer;
  /** The same payload, parsed, to read the subject and extensions from. */
  payload: Json;
  /** `spec.ceOverrides.extensions`, applied last as Knative does. */
  overrides?: Readonly<Record<string, string>> | undefined;
  /** Event time; defaults to now (Knative's client stamps the send time). */
  time?: Date;
}

/** Builds the CloudEvent Knative's GitHub source sends for one webhook delivery. */
export function makeGitHubEvent(input: GitHubEventInput): SluiceEvent {
  const { subject, extensions } = subjectAndExtensions(input.eventName, input.payload);
  const attributes: Record<string, string> = {
    ...extensions,
    specversion: SPEC_VERSION,
    id: input.deliveryId,
    source: input.source,
    type: gitHubEventType(input.eventName),
    datacontenttype: 'application/json',
    time: (input.time ?? new Date()).toISOString(),
  };
  if (subject !== undefined) attributes.subject = subject;
  if (input.overrides) Object.assign(attributes, input.overrides);
  return { attributes, data: input.data };
}
