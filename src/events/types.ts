/**
 * Sluice's internal form of a CloudEvent.
 *
 * The hot path never builds cloudevents SDK objects (about 20 us each, see STACK.md):
 * an event is its context attributes as strings (their canonical string form, which is
 * how binary mode carries them anyway) plus the data as raw bytes, exactly as received.
 * A channel never changes the event; it may change the content mode.
 */
export interface SluiceEvent {
  /**
   * Context attributes keyed by their lower-case CloudEvents name: `specversion`, `id`,
   * `source`, `type`, optional `datacontenttype`, `dataschema`, `subject`, `time`, and
   * extensions. Never contains `data` or `data_base64`.
   */
  readonly attributes: Readonly<Record<string, string>>;
  /** The data as bytes; `undefined` when the event carries no data. */
  readonly data?: Buffer | undefined;
}

/** The content mode an event arrived in. */
export type ContentMode = 'binary' | 'structured' | 'batch';

/** Key that identifies an event for deduplication: Knative recipients dedupe on source + id. */
export function eventKey(e: SluiceEvent): string {
  return `${e.attributes.source} ${e.attributes.id}`;
}
