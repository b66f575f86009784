import { type AuditEvent, type AuditQuery, type AuditRecord, MAX_AUDIT_PAGE, SYSTEM } from '../core/audit.ts';
import type { Clock } from '../core/time.ts';
import type { Store } from '../store/store.ts';
import { InputError } from './input-error.ts';
import type { Actor } from './signing-keys.ts';

export interface AuditLogOptions {
  /** Events waiting to be written at most; past it, events are counted and dropped. */
  maxPending?: number;
  /** How often the queue is written, at most this long after an event arrives. */
  flushMs?: number;
}

export const DEFAULT_AUDIT_PENDING = 1000;
const DEFAULT_FLUSH_MS = 1000;
/** A batch this large is written at once rather than at the next tick of the timer. */
const FLUSH_BATCH = 100;

/**
 * The audit events that record no change of the store (logins, logouts, throttle locks): queued
 * and written in batches, off the request's path, so that a flood of failed logins costs one
 * write per batch rather than one per attempt. The queue is bounded: past `maxPending` an event
 * is dropped and counted, and the count is itself written as audit.events_dropped, so the trail
 * says where it has a gap. Changes (keys, accounts) are not written here: the store records
 * each in the transaction that makes it.
 */
export class AuditLog {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly maxPending: number;
  private pending: AuditEvent[] = [];
  private droppedSinceWrite = 0;
  private droppedTotal = 0;
  private writing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(store: Store, clock: Clock, options: AuditLogOptions = {}) {
    this.store = store;
    this.clock = clock;
    this.maxPending = options.maxPending ?? DEFAULT_AUDIT_PENDING;
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? DEFAULT_FLUSH_MS);
    this.timer.unref();
  }

  /** Events dropped since start because the queue was full. */
  get dropped(): number {
    return this.droppedTotal;
  }

  get pendingSize(): number {
    return this.pending.length;
  }

  /** Queues `event`; never waits and never fails the caller. */
  record(event: AuditEvent): void {
    if (this.pending.length >= this.maxPending) {
      this.droppedSinceWrite++;
      this.droppedTotal++;
      return;
    }
    this.pending.push(event);
    if (this.pending.length >= FLUSH_BATCH) void this.flush();
  }

  /** Writes what is queued; one write at a time, so batches keep their order. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.pending.length === 0 && this.droppedSinceWrite === 0) return;
    const batch = this.pending;
    const dropped = this.droppedSinceWrite;
    this.pending = [];
    this.droppedSinceWrite = 0;
    if (dropped > 0) {
      batch.push({
        at: this.clock(),
        orgId: null,
        actor: SYSTEM,
        action: 'audit.events_dropped',
        target: null,
        detail: { count: dropped },
      });
    }
    this.writing = this.store.appendAudit(batch).catch(() => {
      // The store is down: the batch is lost, and counted, so the next write says so.
      this.droppedSinceWrite += batch.length;
      this.droppedTotal += batch.length;
    });
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
  }

  /** Newest first; what is still queued is written first, so a listing shows this process's events. */
  async list(query: AuditQuery): Promise<AuditRecord[]> {
    await this.flush();
    return this.store.listAudit({ ...query, limit: Math.min(Math.max(1, query.limit), MAX_AUDIT_PAGE) });
  }

  /**
   * The trail of the actor's own organization, for its admins only: a session of an admin user
   * or an admin-role key-pair token. Events of no organization are the operator's (keygate audit).
   */
  async listFor(actor: Actor, query: Omit<AuditQuery, 'orgId'>): Promise<AuditRecord[]> {
    if (actor.role !== 'admin') {
      throw new InputError(
        'forbidden',
        'authorization',
        `The audit trail is for administrators; this token acts with the role "${actor.role}".`,
        'Log in as a user with the role "admin", or sign a token with the role "admin" with an admin key.',
      );
    }
    return this.list({ ...query, orgId: actor.orgId });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
