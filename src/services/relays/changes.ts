// How a relay change made by a request reaches the relay runtime of this node at once (other
// nodes notice within their reconcile interval). A no-op until the server attaches the runtime.

export type RelayChanges = {
  notify(streamId: number): void;
  listen(listener: (streamId: number) => void): () => void;
};

export function createRelayChanges(): RelayChanges {
  const listeners = new Set<(streamId: number) => void>();
  return {
    notify: (streamId) => {
      for (const listener of listeners) listener(streamId);
    },
    listen(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
