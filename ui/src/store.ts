/** A minimal observable store and the Preact hook that re-renders on change. */
import { useEffect, useReducer } from "preact/hooks";

export class Store<T> {
  private listeners = new Set<() => void>();

  constructor(private state: T) {}

  get(): T {
    return this.state;
  }

  set(next: T): void {
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  update(change: (state: T) => T): void {
    this.set(change(this.state));
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function useStore<T>(store: Store<T>): T {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const state = store.get();
  useEffect(() => {
    const unsubscribe = store.subscribe(() => rerender(0));
    if (store.get() !== state) rerender(0); // changed between render and subscription
    return unsubscribe;
  }, [store]);
  return state;
}
