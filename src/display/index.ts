export { EventDisplay, type DisplayedEvent } from './event-display.js';
export { EventDisplayReconciler, EVENT_DISPLAY_KIND } from './display-reconciler.js';
