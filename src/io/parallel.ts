// Bounded concurrency: a fail-fast job pool (runParallel) and an ordered map over async work (mapInOrder).

/**
 * Runs `worker` over `items` (pulled lazily, so an async iterable of 100k entries never sits in memory whole)
 * with at most `concurrency` in flight. Results reach `onResult` in completion order, on the one calling loop.
 * After the first failure no new job starts; jobs in flight finish; then that failure is thrown.
 */
export async function runParallel<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  options: { concurrency: number; worker: (item: T) => Promise<R>; onResult?: (result: R, item: T) => void },
): Promise<void> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  let exhausted = false;

  const lane = async (): Promise<void> => {
    while (failure === undefined && !exhausted) {
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        return;
      }
      try {
        const result = await options.worker(next.value);
        options.onResult?.(result, next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };

  const lanes = Array.from({ length: Math.max(1, options.concurrency) }, () => lane());
  await Promise.all(lanes);
  if (failure !== undefined) throw failure.error;
}

/**
 * Yields `map(item)` for every item, in input order, with up to `concurrency` maps started at once: for work on
 * libuv's pool (compression, decompression) whose results must keep their order. An item is pulled only when a
 * map can start, so memory stays at `concurrency` items and results. A failed map throws when its turn comes.
 */
export async function* mapInOrder<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  map: (item: T) => Promise<R>,
  concurrency: number,
): AsyncGenerator<{ item: T; result: R }> {
  const window: { item: T; result: Promise<R> }[] = [];
  for await (const item of items) {
    const result = map(item);
    // Awaited below, in order; should a later one fail first, its error is not unhandled meanwhile.
    result.catch(() => undefined);
    window.push({ item, result });
    if (window.length >= concurrency) {
      const next = window.shift() as { item: T; result: Promise<R> };
      yield { item: next.item, result: await next.result };
    }
  }
  for (let next = window.shift(); next !== undefined; next = window.shift())
    yield { item: next.item, result: await next.result };
}
