export { jobSinkKind, jobSinkSpecSchema, jobRunner, JOBSINK_API_VERSION, EVENT_MOUNT_PATH, MAX_CONCURRENT_ANNOTATION, MAX_QUEUED_ANNOTATION, BACKOFF_ANNOTATION } from './jobsink-kind.js';
export type { JobSinkSpec, JobRunner } from './jobsink-kind.js';
export { JobSink, JobQueueFullError, type JobRecord, type JobState } from './jobsink.js';
export { JobSinkReconciler, jobSinkPath, type JobSinkReconcilerOptions } from './jobsink-reconciler.js';
