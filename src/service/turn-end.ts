/**
 * Work held to the end of the current turn of the event loop, when every request read in the
 * turn has been handled, in four stages: the turn's tokens (decided back to back,
 * http/require-token.ts), then the turn's signature checks (run back to back,
 * service/turn-signatures.ts), then what the turn's accepted tokens wait on (the replay ledger's
 * commit), then, once every promise that settled has run its callbacks, the turn's answers
 * (written to their sockets together, http/turn-writes.ts).
 *
 * The stages are setImmediate callbacks, queued together the first time a turn asks for any.
 * Node runs the immediates queued before its check phase in order and drains the microtask queue
 * between two of them: so the signatures the turn's tokens need are planned before they are
 * checked, the claims that the signature checks let through are in the ledger's
 * batch before it commits, and the answers a commit settles are made before the write stage
 * runs, all in the same turn. Left to unrelated setImmediate calls, a later stage could run first
 * and its work wait a whole turn more, behind the next turn's requests.
 */
export type TurnStage = 'tokens' | 'verify' | 'commit' | 'write';

type Task = () => void;

const due: Record<TurnStage, Task[]> = { tokens: [], verify: [], commit: [], write: [] };
let queued = false;

/** Runs `task` at the end of this turn, in `stage`; one added after its stage ran waits for the next turn's. */
export function atTurnEnd(stage: TurnStage, task: Task): void {
  due[stage].push(task);
  if (!queued) queue();
}

function queue(): void {
  queued = true;
  setImmediate(run, 'tokens');
  setImmediate(run, 'verify');
  setImmediate(run, 'commit');
  setImmediate(runLast);
}

function run(stage: TurnStage): void {
  const tasks = due[stage];
  due[stage] = [];
  for (const task of tasks) task();
}

function runLast(): void {
  queued = false;
  run('write');
  // A task asked for after its stage ran, or a write by a write task: the next turn's.
  if (!queued && Object.values(due).some((tasks) => tasks.length > 0)) queue();
}

/**
 * Items gathered during a turn and handed to `take` together at its end, in `stage`: what the
 * replay ledger's claims, the turn's signatures and its answers each are. The first item of a
 * turn books the stage; one added while `take` runs (or after its stage ran) waits for the next
 * turn's. Emptied at every turn's end, so it holds one turn's items however long a flood lasts.
 */
export class TurnBatch<T> {
  private items: T[] = [];
  private readonly stage: TurnStage;
  private readonly take: (items: T[]) => void;

  constructor(stage: TurnStage, take: (items: T[]) => void) {
    this.stage = stage;
    this.take = take;
  }

  add(item: T): void {
    if (this.items.length === 0) atTurnEnd(this.stage, this.flush);
    this.items.push(item);
  }

  private readonly flush = (): void => {
    const items = this.items;
    this.items = [];
    this.take(items);
  };
}
