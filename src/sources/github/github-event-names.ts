/**
 * Webhook event names GitHub documents (docs.github.com "Webhook events and payloads"),
 * plus the legacy `integration_installation*` names Knative still lists. Used to warn
 * about a likely typo in `spec.eventTypes`; any `^[a-z_]+$` name is still accepted,
 * because GitHub adds events faster than any list is updated.
 */
export const KNOWN_GITHUB_EVENTS: ReadonlySet<string> = new Set([
  'branch_protection_configuration',
  'branch_protection_rule',
  'check_run',
  'check_suite',
  'code_scanning_alert',
  'commit_comment',
  'create',
  'custom_property',
  'custom_property_values',
  'delete',
  'dependabot_alert',
  'deploy_key',
  'deployment',
  'deployment_protection_rule',
  'deployment_review',
  'deployment_status',
  'discussion',
  'discussion_comment',
  'fork',
  'github_app_authorization',
  'gollum',
  'installation',
  'installation_repositories',
  'installation_target',
  'integration_installation',
  'integration_installation_repositories',
  'issue_comment',
  'issue_dependencies',
  'issues',
  'label',
  'marketplace_purchase',
  'member',
  'membership',
  'merge_group',
  'meta',
  'milestone',
  'org_block',
  'organization',
  'package',
  'page_build',
  'personal_access_token_request',
  'ping',
  'project',
  'project_card',
  'project_column',
  'projects_v2',
  'projects_v2_item',
  'projects_v2_status_update',
  'public',
  'pull_request',
  'pull_request_review',
  'pull_request_review_comment',
  'pull_request_review_thread',
  'push',
  'registry_package',
  'release',
  'repository',
  'repository_advisory',
  'repository_dispatch',
  'repository_import',
  'repository_ruleset',
  'repository_vulnerability_alert',
  'secret_scanning_alert',
  'secret_scanning_alert_location',
  'secret_scanning_scan',
  'security_advisory',
  'security_and_analysis',
  'sponsorship',
  'star',
  'status',
  'sub_issues',
  'team',
  'team_add',
  'watch',
  'workflow_dispatch',
  'workflow_job',
  'workflow_run',
]);

/** GitHub's wildcard: a hook created with `events: ["*"]` receives every event. */
export const ALL_GITHUB_EVENTS = '*';

/** The CloudEvents type Knative gives a GitHub event. */
export function gitHubEventType(eventName: string): string {
  return `dev.knative.source.github.${eventName}`;
}

/** The CloudEvents source Knative gives a GitHubSource: `https://github.com/<ownerAndRepository>`. */
export function gitHubEventSource(ownerAndRepository: string): string {
  return `https://github.com/${ownerAndRepository}`;
}
