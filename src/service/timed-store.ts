import { ConflictError, KeyCapError, type Store } from '../store/store.ts';
import type { Metrics, StoreCallCounts } from './metrics.ts';

type StoreMethod = (...args: unknown[]) => unknown;

/**
 * The store with every method counted and timed for /metrics, by method name only (a closed set:
 * the Store interface). Each method of the store's class is wrapped once, here, so a method added
 * to the interface later is timed too. A refused write (ConflictError, KeyCapError) is an answer,
 * not a failure; every other error counts as one.
 */
export function timedStore(store: Store, metrics: Metrics): Store {
  // Fields (dialect, and anything a test reads) are read through to the store itself.
  const timed = Object.create(store) as Store;
  for (const name of methodNames(store)) {
    const method = (store as unknown as Record<string, StoreMethod>)[name] as StoreMethod;
    const counts = metrics.storeCall(name);
    // Writable and configurable, as a method of a class is: tests replace one with a mock.
    Object.defineProperty(timed, name, {
      value: (...args: unknown[]) => timedCall(store, method, args, counts),
      writable: true,
      configurable: true,
    });
  }
  return timed;
}

function timedCall(store: Store, method: StoreMethod, args: unknown[], counts: StoreCallCounts): unknown {
  const started = performance.now();
  counts.calls++;
  const done = (failed: boolean, error?: unknown) => {
    if (failed && !(error instanceof ConflictError) && !(error instanceof KeyCapError)) counts.errors++;
    counts.latency.observe((performance.now() - started) / 1000);
  };
  let result: unknown;
  try {
    result = method.apply(store, args);
  } catch (error) {
    done(true, error);
    throw error;
  }
  if (!(result instanceof Promise)) {
    done(false);
    return result;
  }
  return result.then(
    (value: unknown) => {
      done(false);
      return value;
    },
    (error: unknown) => {
      done(true, error);
      throw error;
    },
  );
}

/** Every method of the store's classes, the constructor aside. */
function methodNames(store: Store): string[] {
  const names = new Set<string>();
  for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== 'constructor' && typeof descriptor?.value === 'function') names.add(name);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return [...names];
}
