/**
 * A pull-based watch: events are queued by the producer and handed out by `next()`. A failure is
 * thrown from the iterator once; `stop()` (or an aborted signal, or `break` in for-await) ends it.
 */
import type { Key, Watch, WatchEvent } from '@libcalico-ts/datastore';

export class QueuedWatch<K extends Key> implements Watch<K> {
  private readonly queue: WatchEvent<K>[] = [];
  private readonly waiters: { resolve: (r: IteratorResult<WatchEvent<K>>) => void; reject: (e: unknown) => void }[] = [];
  private failure: unknown;
  private ended = false;
  readonly controller = new AbortController();

  constructor(signal: AbortSignal | undefined, private readonly onStop: () => void = () => undefined) {
    if (signal?.aborted) {
      this.ended = true;
      this.controller.abort();
    } else signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  get stopped(): boolean {
    return this.ended;
  }

  /** Queues an event (ignored after the end). */
  push(event: WatchEvent<K>): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ value: event, done: false });
    else this.queue.push(event);
  }

  /** Ends the watch with an error, thrown after the queued events. */
  fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = error;
    this.controller.abort();
    this.onStop();
    while (this.waiters.length > 0 && this.queue.length === 0) {
      this.waiters.shift()!.reject(error);
      this.failure = undefined;
      this.ended = true;
    }
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.controller.abort();
    this.onStop();
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<WatchEvent<K>>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.failure !== undefined) {
      const error = this.failure;
      this.failure = undefined;
      this.ended = true;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent<K>> {
    return {
      next: () => this.next(),
      return: async () => {
        this.stop();
        return { value: undefined, done: true };
      },
    };
  }
}
