// A bounded, fail-fast job pool: at most `concurrency` jobs at once; the first error stops new jobs and is thrown.

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
