// An ordered map that starts the heaviest work first: results in input order, jobs in order of weight.
//
// Why: mapInOrder starts items in input order with a window as wide as its concurrency, so one large item (a 1 GiB
// relation file among small ones) holds the window while the other lanes finish and wait: the large item then
// runs alone at the end. Here the window is wider than the concurrency, and within it the heaviest item not started
// goes first, so the large one starts early and the small ones fill the other lanes meanwhile.

/** A max-heap of the items not started yet: heaviest first, the earlier of equal weights first. */
class WaitingHeap<E extends { readonly weight: number; readonly sequence: number }> {
  readonly #entries: E[] = [];

  get size(): number {
    return this.#entries.length;
  }

  push(entry: E): void {
    const entries = this.#entries;
    entries.push(entry);
    for (let at = entries.length - 1; at > 0;) {
      const parent = (at - 1) >> 1;
      if (!this.#before(entries[at] as E, entries[parent] as E)) break;
      [entries[at], entries[parent]] = [entries[parent] as E, entries[at] as E];
      at = parent;
    }
  }

  pop(): E | undefined {
    const entries = this.#entries;
    const top = entries[0];
    const last = entries.pop();
    if (top === undefined || last === undefined || entries.length === 0) return top;
    entries[0] = last;
    for (let at = 0; ;) {
      const left = 2 * at + 1;
      const right = left + 1;
      let first = at;
      if (left < entries.length && this.#before(entries[left] as E, entries[first] as E)) first = left;
      if (right < entries.length && this.#before(entries[right] as E, entries[first] as E)) first = right;
      if (first === at) break;
      [entries[at], entries[first]] = [entries[first] as E, entries[at] as E];
      at = first;
    }
    return top;
  }

  #before(a: E, b: E): boolean {
    return a.weight > b.weight || (a.weight === b.weight && a.sequence < b.sequence);
  }
}

interface Entry<T, R> {
  readonly item: T;
  readonly weight: number;
  readonly sequence: number;
  outcome?: { ok: true; value: R } | { ok: false; error: unknown };
}

export interface HeaviestFirstOptions<T> {
  /** Maps running at once. */
  readonly concurrency: number;
  /**
   * Items pulled ahead of the oldest one not yet yielded (at least `concurrency`): memory is this many items and
   * results, whatever the input's length.
   */
  readonly window: number;
  /** The work an item is (a file's stored bytes): the heaviest of the window starts first. */
  readonly weight: (item: T) => number;
}

/**
 * Yields `map(item)` for every item in input order, with up to `concurrency` maps running, each started on the
 * heaviest item of the window not started yet (equal weights in input order, so with equal weights this is
 * mapInOrder with a wider window). Items are pulled only to keep the window full. A failed map throws when its
 * turn comes; maps already running then finish unobserved.
 */
export async function* mapHeaviestFirst<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  map: (item: T) => Promise<R>,
  options: HeaviestFirstOptions<T>,
): AsyncGenerator<{ item: T; result: R }> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  const concurrency = Math.max(1, options.concurrency);
  const width = Math.max(concurrency, options.window);
  /** Pulled and not yet yielded, in input order. */
  const window: Entry<T, R>[] = [];
  const waiting = new WaitingHeap<Entry<T, R>>();
  let sequence = 0;
  let running = 0;
  let exhausted = false;
  /** Resolved whenever a running map settles. */
  let settled: () => void = () => undefined;

  const start = (entry: Entry<T, R>): void => {
    running++;
    map(entry.item)
      .then(
        (value) => {
          entry.outcome = { ok: true, value };
        },
        (error: unknown) => {
          entry.outcome = { ok: false, error };
        },
      )
      .finally(() => {
        running--;
        settled();
      });
  };

  try {
    for (;;) {
      while (!exhausted && window.length < width) {
        const next = await iterator.next();
        if (next.done === true) {
          exhausted = true;
          break;
        }
        const entry: Entry<T, R> = {
          item: next.value,
          weight: options.weight(next.value),
          sequence: sequence++,
        };
        window.push(entry);
        waiting.push(entry);
      }
      while (running < concurrency && waiting.size > 0) start(waiting.pop() as Entry<T, R>);
      const head = window[0];
      if (head === undefined) return;
      if (head.outcome === undefined) {
        await new Promise<void>((resolve) => {
          settled = resolve;
        });
        continue;
      }
      window.shift();
      if (!head.outcome.ok) throw head.outcome.error;
      yield { item: head.item, result: head.outcome.value };
    }
  } finally {
    if (!exhausted) await iterator.return?.();
  }
}
