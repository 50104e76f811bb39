// Runs async tasks one after another per key. Voice handlers read the cluster state, decide, then
// write it back; two frames of the same user interleaving between those steps (two tabs, or a frame
// racing the socket's disconnect) could otherwise leave a session half-ended.

export type KeyedSerial = { run<T>(key: string, task: () => Promise<T>): Promise<T> };

export function createKeyedSerial(): KeyedSerial {
  const tails = new Map<string, Promise<void>>();
  return {
    run(key, task) {
      const prev = tails.get(key) ?? Promise.resolve();
      const result = prev.then(task);
      // The stored tail never rejects, so one failed task does not poison the queue.
      const tail = result.then(
        () => {},
        () => {},
      );
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
  };
}
