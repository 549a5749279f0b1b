export { EventDisplay, type DisplayedEvent } from './event-display.js';
export { EventDisplayReconciler } from './display-reconciler.js';
export { eventDisplayKind, EVENT_DISPLAY_API_VERSION, type EventDisplaySpec } from './event-display-kind.js';
