// The event inspector: live tail, recent deliveries, dead letters and rates on the admin port.
export { Inspector, type InspectorOptions, type RateKind, type RateView, type TapTarget } from './inspector.js';
export { inspectorRoutes, type InspectorRoutesOptions } from './inspector-routes.js';
export type { DeliveryRecordView, DeliveryLogOptions } from './delivery-log.js';
export type { StreamedEvent, TappedKind } from './event-view.js';
export type { LiveStreamOptions } from './live-stream.js';
export type { StreamFilter } from './sse-client.js';
